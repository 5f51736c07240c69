package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// ProblemTypePrefix begins the stable type URI of every anzen API error;
// docs/api.md lists the types.
const ProblemTypePrefix = "urn:anzen:problem:"

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem writes an application/problem+json response of the given kind
// (the last segment of its type URI). The detail is the message msgID in
// the request's language.
func (s *Server) Problem(w http.ResponseWriter, r *http.Request, status int, kind, msgID string, data any) {
	s.WriteProblem(w, Problem{
		Type:   ProblemTypePrefix + kind,
		Title:  http.StatusText(status),
		Status: status,
		Detail: s.T(r, msgID, data),
	})
}

// WriteProblem writes p as it is.
func (s *Server) WriteProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// JSON writes v as a JSON response with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// DecodeError is a request body that could not be decoded; Kind is the
// problem type to answer with.
type DecodeError struct {
	Kind   string
	Status int
	MsgID  string
	Err    error
}

func (e *DecodeError) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// DecodeJSON reads one JSON object from the body into dst. It refuses a
// body that is too large, not UTF-8, not JSON, of the wrong types, with
// unknown fields or with trailing data, each with its own DecodeError.
func DecodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &DecodeError{"unsupported-media-type", http.StatusUnsupportedMediaType, "error.json_content_type",
				fmt.Errorf("content type %q", ct)}
		}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &DecodeError{"body-too-large", http.StatusRequestEntityTooLarge, "error.body_too_large", err}
		}
		return &DecodeError{"invalid-body", http.StatusBadRequest, "error.invalid_json", err}
	}
	if !utf8.Valid(b) {
		return &DecodeError{"invalid-utf8", http.StatusBadRequest, "error.invalid_utf8", errors.New("body is not valid UTF-8")}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return &DecodeError{"invalid-field-type", http.StatusBadRequest, "error.json_type", err}
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return &DecodeError{"unknown-field", http.StatusBadRequest, "error.json_unknown_field", err}
		}
		return &DecodeError{"invalid-json", http.StatusBadRequest, "error.invalid_json", err}
	}
	// Only white space may follow. (Decoder.More would let a stray '}' or
	// ']' through.)
	if _, err := dec.Token(); err != io.EOF {
		return &DecodeError{"invalid-json", http.StatusBadRequest, "error.invalid_json", errors.New("data after the JSON object")}
	}
	return nil
}

// DecodeProblem answers a DecodeJSON error as problem+json.
func (s *Server) DecodeProblem(w http.ResponseWriter, r *http.Request, err error) {
	var de *DecodeError
	if errors.As(err, &de) {
		s.WriteProblem(w, Problem{Type: ProblemTypePrefix + de.Kind, Title: http.StatusText(de.Status),
			Status: de.Status, Detail: s.T(r, de.MsgID, nil) + " (" + de.Err.Error() + ")"})
		return
	}
	s.Problem(w, r, http.StatusBadRequest, "invalid-json", "error.invalid_json", nil)
}
