package sigma

// TextAppender is an Event that can give its texts for keyword searches
// as bytes: AppendTexts appends to dst each text Keywords gives, in any
// order, each after a NUL byte. An Index searches these bytes, so an
// event whose texts are bytes already (an original record) need not make
// strings of them.
type TextAppender interface {
	Event
	AppendTexts(dst []byte) []byte
}

// JSONEvent is an event decoded from a JSON object, seen through a
// FieldMap. Make one with NewJSONEvent.
type JSONEvent struct {
	obj map[string]any
	m   *FieldMap
}

// NewJSONEvent returns obj as an Event whose Sigma field names are
// resolved through m (nil: each name is its own path). A path a.b.c is
// first looked up as the literal key "a.b.c", then by walking the nested
// objects a, b, c. An object with a "#text" key (XML text turned into
// JSON, as in {"EventID": {"#text": 4688}}) reads as that text.
func NewJSONEvent(obj map[string]any, m *FieldMap) Event {
	if m == nil {
		m = identityMap
	}
	return &JSONEvent{obj: obj, m: m}
}

// Field returns the value at the field's path, through the FieldMap; of
// several alternative paths, the first present wins.
func (e *JSONEvent) Field(name string) (any, bool) {
	for _, p := range e.m.resolve(name) {
		if v, ok := lookup(e.obj, p); ok {
			return v, true
		}
	}
	return nil, false
}

// Keywords calls fn with every string, number and boolean value in the
// event, at any depth, until fn returns true.
func (e *JSONEvent) Keywords(fn func(s string) bool) bool {
	return keywords(e.obj, fn)
}

func keywords(v any, fn func(s string) bool) bool {
	switch x := v.(type) {
	case string:
		return fn(x)
	case map[string]any:
		for _, el := range x {
			if keywords(el, fn) {
				return true
			}
		}
	case []any:
		for _, el := range x {
			if keywords(el, fn) {
				return true
			}
		}
	case nil:
	default:
		if s, ok := toString(x); ok {
			return fn(s)
		}
	}
	return false
}

// fieldPath is one path a Sigma field name resolves to.
type fieldPath struct {
	full string   // the path as written, tried as a literal key first
	segs []string // the path cut at its dots
}

func lookup(obj map[string]any, p fieldPath) (any, bool) {
	v, ok := obj[p.full]
	if !ok {
		if len(p.segs) < 2 {
			return nil, false
		}
		var cur any = obj
		for _, s := range p.segs {
			m, isMap := cur.(map[string]any)
			if !isMap {
				return nil, false
			}
			if cur, ok = m[s]; !ok {
				return nil, false
			}
		}
		v = cur
	}
	if m, isMap := v.(map[string]any); isMap {
		if t, hasText := m["#text"]; hasText {
			return t, true
		}
	}
	return v, true
}
