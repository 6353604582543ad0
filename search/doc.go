// Package search answers similarity queries and serves the HTTP API.
//
// A query video goes through the analyze package, the very code an upload goes
// through in the worker. Each of its segments is matched against the
// segments collection, space by space; segment hits roll up to videos (per
// space, a video's score is the mean over query segments of its best
// matching segment), and the spaces are fused by reciprocal rank fusion.
// Every result carries the time ranges that matched and the query time
// ranges they matched.
package search
