// Package embedded is the index.Index of `mediavec up`: in process, on
// disk, no server.
//
// Each collection is kept in memory — payloads by id, every dense vector
// of one name in one contiguous float32 slab (exact scan with SIMD dot
// products from viterin/vek, split across cores for large slabs, with an
// int8 bound-and-rescore pass that reads a quarter of the bytes and
// returns the same answer), every sparse vector in an inverted index — and
// persisted as an append-only, checksummed write-ahead log (log.go), plus
// a manifest of collections and aliases. A write returns only after the
// log is fsynced, the "durably written" a worker waits for before it acks
// a job; concurrent writers share one append and one fsync (write.go).
//
// Files: embedded.go (opening, the manifest, collections and aliases),
// write.go (group commit), log.go (records, replay, compaction),
// collection.go (points in memory), postings.go (sparse vectors),
// query.go, scan.go and collect.go (scoring and top-k), quant.go and
// dot_amd64.s (the int8 pass).
package embedded
