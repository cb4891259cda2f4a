package main

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fileStandardInfo is FILE_STANDARD_INFO, which x/sys/windows does not
// declare.
type fileStandardInfo struct {
	AllocationSize int64
	EndOfFile      int64
	NumberOfLinks  uint32
	DeletePending  bool
	Directory      bool
}

// diskUsage returns the disk space allocated to the file at path, or its
// length when Windows does not say.
func diskUsage(path string, fi os.FileInfo) int64 {
	f, err := os.Open(path)
	if err != nil {
		return fi.Size()
	}
	defer f.Close()
	var info fileStandardInfo
	err = windows.GetFileInformationByHandleEx(windows.Handle(f.Fd()), windows.FileStandardInfo,
		(*byte)(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	if err != nil {
		return fi.Size()
	}
	return info.AllocationSize
}
