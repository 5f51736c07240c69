package audit

// SetArchiveCrash makes archiving stop with f's error after a segment's
// files are written and checked, before its rows leave the database, as a
// crash there would; nil restores it.
func SetArchiveCrash(f func() error) { archiveCrash = f }

// WithSegmentLevel makes the log's archive segments the subtrees of the
// given level (a stored one: 4, 8, 12, 16) instead of 16, so that tests
// fill segments with few events.
func WithSegmentLevel(level uint) Option { return func(l *Log) { l.keep.segmentLevel = level } }
