package audit

// SetArchiveCrash makes archiving stop with f's error after a segment's
// files are written and checked, before its rows leave the database, as a
// crash there would; nil restores it.
func SetArchiveCrash(f func() error) { archiveCrash = f }
