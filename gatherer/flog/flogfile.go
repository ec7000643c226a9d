package flog

import (
	"errors"
	"strings"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// Magic is the first line of every flogfile.
const Magic = "# foolscap flogfile v1\n"

// DefaultMaxLineSize bounds one line of a flogfile read by Reader. Python
// has no limit; 64 MiB is far above any real event (an incident of 1800
// events is about 40 kB compressed).
const DefaultMaxLineSize = 64 << 20

// Errors of Reader. ErrPickleFile and ErrFURLFile wrap ErrBadMagic, like
// python-foolscap's EvilPickleFlogFile and ThisIsActuallyAFurlFileError
// subclass BadMagic.
var (
	// ErrBadMagic: the file does not start with Magic.
	ErrBadMagic = errors.New("not a flogfile: wrong magic line")
	// ErrPickleFile: an old (foolscap <= 0.12.7) pickle-based flogfile.
	ErrPickleFile = magicError("old-style (pickle-based) flogfile")
	// ErrFURLFile: a FURL file (e.g. logport.furl) given by mistake.
	ErrFURLFile = magicError("file holds a FURL, not a flogfile")
	// ErrLineTooLong: a line exceeded the reader's MaxLineSize.
	ErrLineTooLong = errors.New("flogfile line too long")
)

type magicErr struct{ msg string }

func magicError(msg string) error { return &magicErr{msg: msg} }

func (e *magicErr) Error() string { return e.msg }

// Is makes errors.Is(err, ErrBadMagic) true for the specialised errors.
func (e *magicErr) Is(target error) bool { return target == ErrBadMagic }

// IsCompressedName reports whether a flogfile of this name is bzip2
// compressed: python-foolscap decides by the ".bz2" suffix alone.
func IsCompressedName(name string) bool {
	return strings.HasSuffix(name, ".bz2")
}

// NewHeader builds a header dict the way flogfile.serialize_header does:
// "type" first, then the given key/value pairs in order. Header types:
// "incident" (trigger, versions, pid), "gatherer" (start), "tail"
// (versions, pid), "log-file-observer" (versions, pid, threshold).
func NewHeader(typ string, kv ...any) *banana.Dict {
	h := banana.NewDict("type", typ)
	h.Items = append(h.Items, banana.NewDict(kv...).Items...)
	return h
}
