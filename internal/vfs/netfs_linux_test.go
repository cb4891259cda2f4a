package vfs

import "testing"

func TestNetworkFSMagics(t *testing.T) {
	for magic, name := range map[uint32]string{
		0x6969:     "nfs",
		0x517B:     "smb",
		0xFE534D42: "smb2",
		0xFF534D42: "cifs",
		0x01021997: "9p",
		0x65735546: "fuse",
		0x00C36400: "ceph",
		0x5346414F: "afs",
		0x73757245: "coda",
	} {
		if got := networkFS[magic]; got != name {
			t.Errorf("networkFS[%#x] = %q, want %q", magic, got, name)
		}
	}
	if name, ok := networkFS[0xEF53]; ok {
		t.Errorf("ext4 is taken for %s", name)
	}
}
