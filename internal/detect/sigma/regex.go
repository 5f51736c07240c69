package sigma

import (
	"fmt"
	"regexp"
	"strings"
)

// compileRegexp compiles a |re value with its flags. Go's regexp is RE2:
// it runs in linear time and has no lookaround, backreferences, atomic
// groups or possessive quantifiers. Those are found first and named, so
// the message says what to change rather than what RE2 stumbled on.
func compileRegexp(src string, flags string) (*regexp.Regexp, error) {
	if c := unsupportedRegexp(src); c != "" {
		return nil, fmt.Errorf("|re: %s is not supported (Go's RE2 engine)", c)
	}
	if flags != "" {
		src = "(?" + flags + ")" + src
	}
	re, err := regexp.Compile(src)
	if err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "error parsing regexp: ")
		return nil, fmt.Errorf("|re: %s", msg)
	}
	return re, nil
}

// unsupportedRegexp names the first PCRE construct in src that RE2 has
// not, or returns "".
func unsupportedRegexp(src string) string {
	inClass := false
	quantEnd := false // the previous token closed a quantifier
	for i := 0; i < len(src); i++ {
		c := src[i]
		wasQuant := quantEnd
		quantEnd = false
		if c == '\\' {
			if i+1 >= len(src) {
				return ""
			}
			n := src[i+1]
			if !inClass {
				switch {
				case n >= '1' && n <= '9':
					return fmt.Sprintf("backreference \\%c", n)
				case n == 'k' && i+2 < len(src) && (src[i+2] == '<' || src[i+2] == '{' || src[i+2] == '\''):
					return "named backreference \\k"
				case n == 'g' && i+2 < len(src) && (src[i+2] == '{' || src[i+2] == '<' || (src[i+2] >= '0' && src[i+2] <= '9') || src[i+2] == '-'):
					return "backreference \\g"
				case n == 'G':
					return "anchor \\G"
				case n == 'Z':
					return "anchor \\Z"
				case n == 'K':
					return "match reset \\K"
				case n == 'R':
					return "linebreak \\R"
				case n == 'X':
					return "grapheme cluster \\X"
				}
			}
			i++
			continue
		}
		if inClass {
			if c == ']' {
				inClass = false
			}
			continue
		}
		switch c {
		case '[':
			inClass = true
			// A ] right after [ or [^ is a literal.
			if i+1 < len(src) && src[i+1] == '^' {
				i++
			}
			if i+1 < len(src) && src[i+1] == ']' {
				i++
			}
		case '(':
			rest := src[i+1:]
			switch {
			case strings.HasPrefix(rest, "?="):
				return "lookahead (?="
			case strings.HasPrefix(rest, "?!"):
				return "negative lookahead (?!"
			case strings.HasPrefix(rest, "?<="):
				return "lookbehind (?<="
			case strings.HasPrefix(rest, "?<!"):
				return "negative lookbehind (?<!"
			case strings.HasPrefix(rest, "?>"):
				return "atomic group (?>"
			case strings.HasPrefix(rest, "?|"):
				return "branch reset group (?|"
			case strings.HasPrefix(rest, "?#"):
				return "comment group (?#"
			case strings.HasPrefix(rest, "?R"), strings.HasPrefix(rest, "?&"), strings.HasPrefix(rest, "?P>"),
				len(rest) > 1 && rest[0] == '?' && (rest[1] >= '0' && rest[1] <= '9' || rest[1] == '+' || rest[1] == '-' && len(rest) > 2 && rest[2] >= '0' && rest[2] <= '9'):
				return "recursion " + "(" + rest[:min(len(rest), 2)]
			case strings.HasPrefix(rest, "?("):
				return "conditional group (?("
			case strings.HasPrefix(rest, "*"):
				return "verb (*"
			}
			// A ? right after ( opens a group kind: not a quantifier.
			if strings.HasPrefix(rest, "?") {
				i++
			}
		case '*', '+', '?':
			if wasQuant && c == '+' {
				return "possessive quantifier " + src[i-1:i+1]
			}
			if !wasQuant {
				quantEnd = true
			}
		case '}':
			if strings.LastIndexByte(src[:i], '{') >= 0 {
				quantEnd = true
			}
		}
	}
	return ""
}
