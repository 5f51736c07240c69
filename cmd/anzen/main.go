// Command anzen is the one binary of anzen, the security-management
// platform for Japanese hospitals: `anzen serve` runs the web interface,
// API and background jobs; the other commands manage users, tokens,
// configuration and the database from the shell.
package main

import (
	"fmt"
	"os"

	_ "time/tzdata" // Asia/Tokyo even on machines without zoneinfo
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "anzen:", err)
		os.Exit(1)
	}
}
