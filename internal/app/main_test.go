package app_test

import (
	"os"
	"testing"

	"github.com/anzen-health/anzen/internal/app/apptest"
)

// TestMain makes every anzen these tests start (through apptest or
// app.Open) hash passwords and seal its root key at the test-only argon2id
// cost, whatever the order of the tests (see apptest.UseCheapKeyDerivation).
func TestMain(m *testing.M) {
	apptest.UseCheapKeyDerivation()
	os.Exit(m.Run())
}
