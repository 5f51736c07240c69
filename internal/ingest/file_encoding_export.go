package ingest

import "io"

// DecodeText returns r as UTF-8 text, read in the encoding name (one of
// Encodings; "" or "auto" detects UTF-8, with or without BOM, or
// Shift_JIS by the first 64 KiB), and the name of the encoding read. A
// UTF-8 byte order mark is left for the caller to drop. Other parts that
// read files exported by Japanese hospital systems (detect's reference
// tables) use it, so that every file anzen reads is decoded alike.
func DecodeText(r io.Reader, name string) (io.Reader, string, error) {
	text, enc, err := decodeText(r, name)
	return text, enc.name, err
}
