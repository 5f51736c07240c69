package sigma

import "go.yaml.in/yaml/v3"

// Correlation is one correlation rule.
type Correlation struct {
	ID, Name, Title string
	Level           Level
	Doc             []byte
}

// parseCorrelation reads the document doc (from 1) of a file, a
// correlation rule.
func parseCorrelation(doc int, node *yaml.Node) (*Correlation, error) {
	return nil, &Error{Doc: doc, Line: node.Line, Msg: "correlation rules are not read yet"}
}
