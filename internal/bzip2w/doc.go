// Package bzip2w writes bzip2 streams, fast: the compressor behind the
// incident files (incident-*.flog.bz2) the gatherers write, which Python's
// bz2.BZ2File (level 9) writes in python-foolscap.
//
// Layer: internal helper, usable by gatherer/flog and the gatherer
// services; it imports only the standard library, owns no goroutines and
// knows nothing of flogfiles. It is a compressor only: read bzip2 with
// compress/bzip2.
//
// The API follows compress/*: NewWriter(w, level), Write, Close (ends the
// stream, does not close w) and Reset(w), which reuses every buffer so that
// a Writer kept for the next incident compresses without allocating.
//
// The format is bzip2 1.0.x's (there is no formal specification; the
// reference is bzip2's compress.c, blocksort.c and huffman.c): per block,
// RLE1 of runs of 4 to 255 bytes, the Burrows–Wheeler transform of the
// cyclic block, move-to-front with RUNA/RUNB zero runs, 2 to 6 Huffman
// tables (code lengths at most 17) chosen per 50 symbols; a block CRC over
// the block's input and a combined CRC at the end of the stream. A block
// ends where bzip2's does: once it holds level*100000-19 bytes after RLE1,
// the run then open going to the next block. (The limit decoders check,
// level*100000, is on those bytes, not on the input, which RLE1 can expand
// by a quarter.) So, whenever no block is a power of a shorter string, the
// output is byte for byte that of bzip2 1.0.8 and of Python's bz2 module
// (TestSameAsBzip2Command, TestFixtures); for such periodic blocks it may
// pick another, equally valid, origin pointer.
//
// Memory: a Writer keeps roughly 15 bytes per byte of its largest block
// (under 1 MB for a 60 KB incident, about 14 MB for a full level-9 block).
//
// The transform sorts n bytes, not 2n: it sorts the suffixes of the Lyndon
// root of the block's least rotation (see bwt.go) with SA-IS in the manner
// of libsais (sais.go).
package bzip2w
