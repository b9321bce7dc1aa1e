// Package e2e holds end-to-end tests that build the real shepherd binary
// and run masters and workers as separate processes on loopback.
package e2e
