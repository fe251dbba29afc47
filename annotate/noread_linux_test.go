//go:build linux

package annotate

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"unsafe"
)

// TestOpenNeverReadsImages watches the folder with inotify while Open runs: caption files are
// opened, image files never are (no decoding, not even a read of the header).
func TestOpenNeverReadsImages(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a.jpg": "", "a.txt": "a caption", "b.png": "", "b.txt": "b caption", "c.webp": "", "d.tiff": "",
	})
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_OPEN|syscall.IN_ACCESS); err != nil {
		t.Skipf("inotify watch: %v", err)
	}
	d, _ := openT(t, dir, OpenOptions{})
	if d.Len() != 4 {
		t.Fatalf("%d images, want 4", d.Len())
	}
	opened := map[string]bool{}
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(fd, buf)
		if errors.Is(err, syscall.EAGAIN) || n <= 0 {
			break
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			if s := string(bytes.TrimRight(name, "\x00")); s != "" {
				opened[s] = true
			}
			off += syscall.SizeofInotifyEvent + int(ev.Len)
		}
	}
	if !opened["a.txt"] || !opened["b.txt"] {
		t.Fatalf("inotify saw %v: the watch does not work here", opened)
	}
	for name := range opened {
		if IsImageName(name) {
			t.Errorf("Open opened or read image %s", name)
		}
	}
}
