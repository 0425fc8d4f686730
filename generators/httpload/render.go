package httpload

import "bytes"

// renderURI appends the task's path and query, rendered with data, to dst.
// Template output in the path has spaces, control and non-ASCII bytes
// percent-encoded; query keys and values are fully query-escaped.
func (t *task) renderURI(dst []byte, data map[string]any) ([]byte, error) {
	start := len(dst)
	mark := len(dst)
	dst, err := t.path.render(dst, data)
	if err != nil {
		return dst, err
	}
	if !t.path.isStatic() {
		dst = escapeTail(dst, mark, pathUnsafe)
	}
	if len(t.query) == 0 {
		return dst, nil
	}
	sep := byte('?')
	if bytes.IndexByte(dst[start:], '?') >= 0 {
		sep = '&'
	}
	for _, q := range t.query {
		dst = append(dst, sep)
		sep = '&'
		mark = len(dst)
		dst = append(dst, q.key...)
		dst = escapeTail(dst, mark, queryUnsafe)
		dst = append(dst, '=')
		mark = len(dst)
		if dst, err = q.val.render(dst, data); err != nil {
			return dst, err
		}
		dst = escapeTail(dst, mark, queryUnsafe)
	}
	return dst, nil
}

// renderBody appends the task's body, rendered with data, to dst; scratch
// is a reusable buffer for template output that must be JSON-quoted.
func (t *task) renderBody(dst, scratch []byte, data map[string]any) ([]byte, []byte, error) {
	var err error
	for _, s := range t.body {
		switch {
		case s.x == nil:
			dst = append(dst, s.lit...)
		case s.quote:
			if scratch, err = s.x.render(scratch[:0], data); err != nil {
				return dst, scratch, err
			}
			dst = appendJSONString(dst, scratch)
		default:
			if dst, err = s.x.render(dst, data); err != nil {
				return dst, scratch, err
			}
		}
	}
	return dst, scratch, nil
}

func pathUnsafe(b byte) bool { return b <= ' ' || b >= 0x7f || b == '#' }

func queryUnsafe(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return false
	case b == '-' || b == '_' || b == '.' || b == '~':
		return false
	}
	return true
}

// escapeTail percent-encodes the bytes of dst[mark:] for which unsafe is
// true (a space in a query becomes '+'). It allocates only when there is
// something to escape.
func escapeTail(dst []byte, mark int, unsafe func(byte) bool) []byte {
	n := 0
	for _, b := range dst[mark:] {
		if unsafe(b) {
			n++
		}
	}
	if n == 0 {
		return dst
	}
	tail := bytes.Clone(dst[mark:])
	dst = dst[:mark]
	query := unsafe('/')
	for _, b := range tail {
		switch {
		case !unsafe(b):
			dst = append(dst, b)
		case b == ' ' && query:
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', "0123456789ABCDEF"[b>>4], "0123456789ABCDEF"[b&15])
		}
	}
	return dst
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i, b := range s {
		if b >= 0x20 && b != '"' && b != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&15])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
