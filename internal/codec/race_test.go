//go:build race

package codec

// raceEnabled reports a -race build, whose sync.Pool drops items at random
// on purpose, so that allocation counts mean nothing.
const raceEnabled = true
