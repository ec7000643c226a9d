// Package dirlock keeps two programs from working on one gatherer
// directory at the same time ("gatherer run" twice, or "gatherer reclassify"
// while the gatherer runs and appends to classified/).
//
// Layer: internal helper for cmd/gatherer; standard library only. The lock
// is an advisory flock(2) on DIR/.gatherer.lock, released by the kernel when
// the process dies, so a crash never leaves a stale lock. The file also
// holds the owner's pid for the error message. Python's twistd does not take
// this lock, so it does not protect against a Python gatherer running on the
// same directory.
package dirlock
