package detect

// RuleTags returns the tags of the rule or correlation rule whose key is
// key (nil for none loaded): the incident part guesses the kind of an
// incident escalated from an alert by them.
func (en *Engine) RuleTags(key string) []string { return en.tagsOf(key) }
