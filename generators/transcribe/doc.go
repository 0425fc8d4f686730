// Package transcribe is the `kind: transcription` generator: speech
// transcription jobs as batch uploads or as real-time audio streams.
//
// # Config
//
//	asr:
//	  kind: transcription
//	  target: phoenix
//	  mode: streaming            # or batch (default)
//	  rate: 2/s                  # open model (rate / stages / sine) with
//	  max_in_flight: 1000        #   max_in_flight (default 1000), or instead
//	  # concurrency: 100         #   a fixed number of jobs back to back,
//	  # ramp: 100/s              #   started this fast (default 100/s)
//	  audio: builtin:10s         # builtin:speech | builtin:<duration> | file:x.wav
//	                             # | {file: x.wav} | {raw: {file, sample_rate, channels, bit_depth}}
//	  timeout: 30s               # batch: the request; streaming: handshake, and
//	                             #   the wait for the final result after the audio
//	  batch:
//	    path: /v1/audio/transcriptions
//	    file_field: file
//	    model: whisper-1         # "" sends none
//	    response_format: json    # verbose_json; text, srt, vtt: the body is the transcript
//	    fields: {language: en}
//	    headers: {X-Api-Key: …}  # masked in the status API
//	    raw_body: false          # true: POST the WAV itself (audio/wav), fields in the query
//	    transcript_path: $.text
//	  streaming:
//	    path: /v1/listen?encoding=linear16&sample_rate=16000
//	    headers: {}
//	    frame: 100ms             # audio per binary message
//	    speed: 1x                # pace: multiple of real time
//	    duration: 60s            # audio per stream, the clip looping (default: the clip once)
//	    silence: 0s              # pause after the audio, before the end message
//	    keepalive: {every: 5s, message: '{"type":"KeepAlive"}'}   # sent during the silence
//	    config_message: ""       # sent first, as text
//	    end_message: '{"type":"CloseStream"}'
//	    transcript_path: $.channel.alternatives[0].transcript
//	    final_path: $.is_final
//	    type_path: $.type        # messages whose type is not result_type are ignored
//	    result_type: Results
//	    close_on_final: false    # true: end at the first final result after the
//	                             #   end of audio instead of waiting for the server's close
//	  check: {contains: "chest pain", max_wer: 20%, expected: "…"}
//
// The built-in audio is synthetic speech shipped in clips/ (see its
// README) with its reference text, which check.max_wer uses unless
// check.expected is given. builtin:<duration> repeats the sentence with
// 500 ms gaps and pads it with silence; shorter than the sentence, it is
// cut and has no reference text. Audio is 16-bit little-endian mono PCM
// at 8–48 kHz; anything else is a config error saying why.
//
// Deps.Scale multiplies the rate (or the concurrency) and Deps.Shard takes
// this replica's share of it; Deps.Shape, a scheduled run's stages,
// replaces the open-model shape (a fixed concurrency keeps its own).
//
// # Jobs and what they record
//
// A job is one upload (task "batch") or one stream (task "stream"). Each
// is recorded once through exporter.Task.Observe, so requests_total,
// request_failures_total and SLAs work as for HTTP tasks. Its latency
// there is, for batch, the whole job from its intended start (no
// coordinated omission) and, for streaming, the final latency below (a
// stream lasts as long as its audio by design). The transcription series
// (exporter.Metrics.Transcription, mode "batch" or "streaming"):
//
//   - first_result_seconds: streaming, from the first audio frame sent to
//     the first result (partial or final); batch, from the request's
//     headers sent to the first byte of the reply.
//   - final_latency_seconds: streaming, from the end of the audio (the end
//     message sent) to the last final result; batch, from the upload
//     complete to the reply read.
//   - realtime_factor: processing time / audio duration. Batch: final
//     latency / clip length. Streaming: (last final result − first frame) /
//     audio sent, so a stream at 1x is ≥ 1 by construction; use final
//     latency to judge a streaming service.
//   - audio_seconds_total: audio sent (per frame for streams, per complete
//     upload for batch).
//   - failures_total{reason}: status (HTTP status, refused handshake, or a
//     close frame with an error code), timeout, connect, reset, protocol
//     (reply not JSON, no final result, closed before the end of audio),
//     assertion (check failed), dropped (arrival over max_in_flight).
//   - frame_lag_seconds: how late each frame left after its real-time slot.
//
// The three timing histograms are observed for every job that got its
// final result (even one whose check then failed), so their counts equal
// the jobs the service completed. Jobs cut by a shutdown's grace period
// are recorded nowhere (see Scenario.Interrupted).
//
// # Pacing
//
// Frames are sub-slices of the clip (padded once to whole frames), sent
// by a shared scheduler: shards of up to 16 streams (at least GOMAXPROCS
// shards), each one goroutine and one timer over a heap of its streams by
// due time, so a stream costs one goroutine (its reader) and no timer of
// its own; a server that stops reading delays only its shard. Each
// frame's slot is start + i × frame / speed: a late frame does not push
// the next one. The WebSocket write buffer is one frame, so a frame is one
// write. When a run stops, streams end their audio at the next frame, send
// the end message and wait for their final result within the grace period.
//
// A run whose frames were late measured loadd, not the service:
// Scenario.Validity returns an error wrapping ErrLateFrames when more than
// 1 % of frames left over LateFrame (10 ms) late, for the run verdict to
// mark the run invalid; Scenario.Frames gives the counts.
package transcribe
