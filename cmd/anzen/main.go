// Command anzen is the one binary of anzen, the security-management
// platform for Japanese hospitals: `anzen serve` runs the web interface,
// API and background jobs; the other commands manage users, tokens,
// configuration and the database from the shell.
package main

import (
	"errors"
	"fmt"
	"os"

	_ "time/tzdata" // Asia/Tokyo even on machines without zoneinfo
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "anzen:", err)
		code := 1
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		os.Exit(code)
	}
}

// exitError is an error with an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
