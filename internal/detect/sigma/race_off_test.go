//go:build !race

package sigma

// raceEnabled is whether the race detector is on: it allocates.
const raceEnabled = false
