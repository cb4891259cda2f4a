package store

import "encoding/binary"

// The shared page's words 6 and 7 hold the cache ID (vfs.File.CacheID) of
// the file as the process that reset the page found it.
const wordCacheID = sharedWordMax

// storeCacheID records the file's cache ID in the shared page, after a reset.
func (s *Store) storeCacheID() {
	lo, hi := cacheIDWords(s.f.CacheID())
	s.pg.store(wordCacheID, lo)
	s.pg.store(wordCacheID+1, hi)
}

// cacheIDWords is a cache ID as the two words of the shared page.
func cacheIDWords(id [16]byte) (lo, hi uint64) {
	return binary.LittleEndian.Uint64(id[:]), binary.LittleEndian.Uint64(id[8:])
}

// intactHint is the written LSN of the shared page if the page was set up
// under the file's current cache ID, else zero. Every record up to it was
// written whole, with its data before it, by a process of this boot on
// this very file: the page cache still holds what those writes left, so
// recovery need not read back what the records point at, even unsynced.
func (s *Store) intactHint() uint64 {
	if s.pg.b == nil || s.pg.load(wordMagic) != sharedMagic {
		return 0
	}
	id := s.f.CacheID()
	lo, hi := cacheIDWords(id)
	if id == ([16]byte{}) || s.pg.load(wordCacheID) != lo || s.pg.load(wordCacheID+1) != hi {
		return 0
	}
	return s.pg.load(wordWritten)
}
