package encoders

/*
#cgo LDFLAGS: -lgomp
#include <omp.h>
*/
import "C"

import "runtime"

// serially runs fn, which calls Tesseract, on one OS thread whose OpenMP
// parallel regions run on that thread alone. Debian's Tesseract is built
// with OpenMP and runs each line's LSTM on four threads whose waiting
// spins: on a worker that runs several jobs on two cores, the spinning
// took half the CPU of reading a line, and every other job's. One thread
// per call is how the worker runs its ONNX models too (the jobs are the
// parallelism). Tesseract's own advice for many images at once is
// OMP_THREAD_LIMIT=1, which libgomp reads only as the process starts;
// the limit of active levels is set per thread (GCC 11 on), so it is set
// on the thread that makes the call, held for the call.
func serially(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.omp_set_max_active_levels(0)
	return fn()
}
