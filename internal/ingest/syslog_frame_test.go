package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"
	"testing/iotest"
)

// frames reads every frame of input, as strings, with errors as "!name".
func frames(input []byte, mode Framing, max int, oneByte bool) []string {
	var r io.Reader = bytes.NewReader(input)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	f := newFrameReader(r, mode, max)
	var out []string
	for i := 0; i < len(input)+10; i++ {
		msg, err := f.next(true)
		switch {
		case err == nil:
			if len(msg) > max {
				return append(out, fmt.Sprintf("!overlong %d", len(msg)))
			}
			out = append(out, string(msg))
		case errors.Is(err, errTooLong):
			out = append(out, "!long")
		case errors.Is(err, errPartial):
			out = append(out, "!partial")
		case errors.Is(err, errFraming):
			return append(out, "!framing")
		case err == io.EOF:
			return out
		default:
			return append(out, "!"+err.Error())
		}
	}
	return append(out, "!no end")
}

func TestFrameReader(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 40)
	for _, tc := range []struct {
		name  string
		mode  Framing
		input string
		want  []string
	}{
		{"octets", FramingOctetCounting, "5 <1>1 3 abc", []string{"<1>1 ", "abc"}},
		{"octets with newlines inside", FramingAuto, "7 a\nb\r\nc\n2 xy", []string{"a\nb\r\nc\n", "xy"}},
		{"octets too long then good", FramingOctetCounting, "40 " + string(long) + "2 ok", []string{"!long", "ok"}},
		{"octets garbage", FramingOctetCounting, "3 abcGARBAGE", []string{"abc", "!framing"}},
		{"octets leading zero", FramingOctetCounting, "03 abc", []string{"!framing"}},
		{"octets too many digits", FramingOctetCounting, "1234567890 x", []string{"!framing"}},
		{"octets cut", FramingOctetCounting, "3 abc10 abc", []string{"abc", "!partial"}},
		{"octets cut in the count", FramingOctetCounting, "3 abc1", []string{"abc", "!partial"}},
		{"lines", FramingNonTransparent, "<1>a\n<2>b\r\n\n\n<3>c\x00<4>d\n", []string{"<1>a", "<2>b", "<3>c", "<4>d"}},
		{"lines auto", FramingAuto, "<1>a\n", []string{"<1>a"}},
		{"line too long then good", FramingNonTransparent, string(long) + "\n<1>ok\n", []string{"!long", "<1>ok"}},
		{"line too long within the buffer", FramingNonTransparent, string(long[:33]) + "\nok\n", []string{"!long", "ok"}},
		{"line cut", FramingNonTransparent, "<1>a\n<2>b", []string{"<1>a", "!partial"}},
		{"line exactly the limit", FramingNonTransparent, string(long[:32]) + "\n", []string{string(long[:32])}},
		{"empty", FramingAuto, "", nil},
	} {
		for _, oneByte := range []bool{false, true} {
			got := frames([]byte(tc.input), tc.mode, 32, oneByte)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s (one byte at a time %v): %q, want %q", tc.name, oneByte, got, tc.want)
			}
		}
	}
}

func TestFrameReader_DoesNotWaitWhenAskedNot(t *testing.T) {
	pr, pw := io.Pipe()
	f := newFrameReader(pr, FramingOctetCounting, 1024)
	go func() { pw.Write([]byte("3 abc3 de")) }()
	msg, err := f.next(true)
	if err != nil || string(msg) != "abc" {
		t.Fatalf("first: %q %v", msg, err)
	}
	if _, err := f.next(false); err != errWouldBlock {
		t.Fatalf("with half a message buffered: %v, want errWouldBlock", err)
	}
	go func() { pw.Write([]byte("f")); pw.Close() }()
	if msg, err := f.next(true); err != nil || string(msg) != "def" {
		t.Fatalf("second: %q %v", msg, err)
	}
}

// refFrames frames input the slow, obvious way, for FuzzFrameReader.
func refFrames(input []byte, mode Framing, max int) []string {
	var out []string
	if mode == FramingAuto && len(input) > 0 {
		mode = FramingNonTransparent
		if '1' <= input[0] && input[0] <= '9' {
			mode = FramingOctetCounting
		}
	}
	for len(input) > 0 {
		if mode == FramingOctetCounting {
			sp := bytes.IndexByte(input, ' ')
			digits := input
			if sp >= 0 {
				digits = input[:sp]
			}
			for i, c := range digits {
				if c < '0' || c > '9' || i >= maxLenDigits {
					return append(out, "!framing")
				}
			}
			if sp < 0 {
				return append(out, "!partial")
			}
			if sp == 0 || input[0] == '0' {
				return append(out, "!framing")
			}
			n, _ := strconv.Atoi(string(digits))
			if len(input) < sp+1+n {
				return append(out, "!partial")
			}
			if n > max {
				out = append(out, "!long")
			} else {
				out = append(out, string(input[sp+1:sp+1+n]))
			}
			input = input[sp+1+n:]
			continue
		}
		i := bytes.IndexAny(input, "\n\x00")
		if i < 0 {
			return append(out, "!partial")
		}
		line := bytes.TrimSuffix(input[:i], []byte("\r"))
		input = input[i+1:]
		switch {
		case len(line) == 0:
		case len(line) > max:
			out = append(out, "!long")
		default:
			out = append(out, string(line))
		}
	}
	return out
}

// FuzzFrameReader frames any stream in each framing, whole and one byte at
// a time, and compares the frames with those of refFrames.
func FuzzFrameReader(f *testing.F) {
	for _, s := range []string{"5 <1>1 3 abc", "<1>a\n<2>b\r\n\x00c\n", "40 xx", "0 ", "9999999999 ", "\n\n\n",
		"3 abc3", "<13>Apr  1 09:15:02 host app: user=u1\n", "12 <13>1 - - - -"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, input []byte, m uint8) {
		mode := Framing(m % 3)
		const max = 16
		want := fmt.Sprintf("%q", refFrames(input, mode, max))
		for _, oneByte := range []bool{false, true} {
			if got := fmt.Sprintf("%q", frames(input, mode, max, oneByte)); got != want {
				t.Fatalf("%q in %s (one byte %v):\n got %s\nwant %s", input, mode, oneByte, got, want)
			}
		}
	})
}
