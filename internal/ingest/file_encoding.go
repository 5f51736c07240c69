package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	xenc "golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// Encodings are the character encodings Import reads: auto (UTF-8 with or
// without BOM, or Shift_JIS, told apart by the first 64 KiB), utf-8,
// shift_jis (Windows-31J, code page 932, with the NEC and IBM extensions
// Japanese Windows writes) and euc-jp. EUC-JP is never guessed: its bytes
// can also be read as Shift_JIS.
var Encodings = []string{"auto", "utf-8", "shift_jis", "euc-jp"}

// encoding is the encoding a file is read in.
type encoding struct {
	name string
	utf8 bool
	dec  xenc.Encoding // nil for UTF-8
}

var (
	encUTF8     = encoding{name: "utf-8", utf8: true}
	encShiftJIS = encoding{name: "shift_jis", dec: japanese.ShiftJIS}
	encEUCJP    = encoding{name: "euc-jp", dec: japanese.EUCJP}
)

// detectWindow is how much of a file auto detection reads.
const detectWindow = 64 << 10

// ErrEncoding is returned (wrapped) when a file's encoding is unknown or
// cannot be told.
var ErrEncoding = errors.New("unknown character encoding")

// decodeText returns r as UTF-8 text in the encoding name, or the one
// detected for "auto" and "".
func decodeText(r io.Reader, name string) (io.Reader, encoding, error) {
	br := bufio.NewReaderSize(r, detectWindow)
	var enc encoding
	switch strings.ToLower(strings.ReplaceAll(name, "-", "_")) {
	case "", "auto":
		head, err := br.Peek(detectWindow)
		if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, enc, fmt.Errorf("read the file: %w", err)
		}
		var ok bool
		if enc, ok = detect(head, len(head) == detectWindow); !ok {
			return nil, enc, fmt.Errorf("%w: the file is neither UTF-8 nor Shift_JIS; give --encoding (%s)",
				ErrEncoding, strings.Join(Encodings[1:], ", "))
		}
	case "utf_8", "utf8":
		enc = encUTF8
	case "shift_jis", "sjis", "cp932", "windows_31j", "ms932":
		enc = encShiftJIS
	case "euc_jp", "eucjp":
		enc = encEUCJP
	default:
		return nil, enc, fmt.Errorf("%w %q: one of %s", ErrEncoding, name, strings.Join(Encodings, ", "))
	}
	if enc.dec == nil {
		return br, enc, nil
	}
	return transform.NewReader(br, enc.dec.NewDecoder()), enc, nil
}

// detect tells UTF-8 from Shift_JIS by the start of a file; cut says that
// head ends inside the file, perhaps in the middle of a character.
// Japanese text in Shift_JIS is almost never valid UTF-8 (its lead bytes
// 0x81–0x9F and 0xE0–0xFC would need continuation bytes 0x80–0xBF after
// them, which its second bytes 0x40–0x7E never are); text that is both
// is ASCII, the same in either.
func detect(head []byte, cut bool) (encoding, bool) {
	if bytes.HasPrefix(head, []byte("\uFEFF")) {
		return encUTF8, true
	}
	h := head
	if cut {
		// Drop a character cut at the end: find its lead byte.
		for i := 1; i <= 3 && i <= len(h); i++ {
			c := h[len(h)-i]
			if c < 0x80 {
				break
			}
			if c >= 0xC0 {
				if !utf8.FullRune(h[len(h)-i:]) {
					h = h[:len(h)-i]
				}
				break
			}
		}
	}
	if utf8.Valid(h) {
		return encUTF8, true
	}
	text, err := japanese.ShiftJIS.NewDecoder().Bytes(head)
	if err != nil {
		return encoding{}, false
	}
	bad := bytes.Count(text, []byte("\uFFFD"))
	if bad == 0 || (cut && bad == 1 && bytes.HasSuffix(text, []byte("\uFFFD"))) {
		return encShiftJIS, true
	}
	return encoding{}, false
}
