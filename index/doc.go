// Package index stores points (named vectors plus a payload) and answers
// nearest-neighbour queries over them.
//
// Embedded is the zero-server backend used by `mediavec up`: an exact scan
// over contiguous float32 slabs per named vector (SIMD dot products from
// viterin/vek), kept in memory and persisted as an append-only, checksummed
// log per collection. A write returns only after the log is fsynced, which is
// the "durably written" a worker waits for before it acks a job. Opening a
// log whose overwritten and deleted points outnumber its live ones rewrites
// it with only the live ones.
//
// index imports no other mediavec package.
package index
