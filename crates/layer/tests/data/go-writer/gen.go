// Command gen writes go-writer.tar: reference output of Go's archive/tar Writer for the headers
// listed in crates/layer/tests/it/go_writer.rs (the Rust test builds the same headers and compares
// bytes). Headers that Go refuses are attempted too; Go writes nothing for them, and the
// refusals are listed on stdout (saved as refusals.txt).
//
// Usage: go run gen.go > refusals.txt   (writes go-writer.tar in the current directory)
package main

import (
	"archive/tar"
	"fmt"
	"os"
	"strings"
	"time"
)

type entry struct {
	hdr  tar.Header
	data string
}

func main() {
	r := strings.Repeat
	cap20 := string([]byte{1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	t := time.Unix(1700000000, 0)
	es := []entry{
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "etc2/", Mode: 0o40755, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644, Size: 15, ModTime: t, Format: tar.FormatPAX}, data: "root:x:0:0::/:\n"},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "big-ids", Mode: 0o100600, Uid: 3000000, Gid: 3000001, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "opt/ü.txt", Mode: 0o644, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "opt/" + r("a", 60) + "/" + r("b", 57) + ".txt", Mode: 0o644, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "opt/" + r("c", 120), Mode: 0o644, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: r("n", 100), Mode: 0o644, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "lnk", Linkname: "/" + r("t", 120), Mode: 0o777, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "etc/hl", Linkname: "etc/passwd", Mode: 0o100644, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o20666, Devmajor: 1, Devminor: 3, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o10644, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "usr/bin/ping", Mode: 0o4755, ModTime: t, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": cap20}}},
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: r("a", 99) + "/" + r("b", 30) + "/", Mode: 0o755, Uid: 3000000, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "named", Mode: 0o644, Uname: "root", Gname: r("g", 40), ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "old", Mode: 0o644, ModTime: time.Unix(-100, 0), Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "nanos", Mode: 0o644, ModTime: time.Unix(1700000000, 500000000), Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "etc/.wh..wh..opq", Mode: 0o755, Uid: 5, Gid: 6}},
		{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/huge", Mode: 0o600, Devmajor: 1 << 21, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "nul\x00name", Mode: 0o644, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "sorted", Mode: 0o644, Uid: 3000000, ModTime: t, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"SCHILY.xattr.user.b": "2", "SCHILY.xattr.a": "1"}}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "ü" + r("a", 89), Mode: 0o644, ModTime: t, Format: tar.FormatPAX}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "data", Mode: 0o644, Size: 513, ModTime: t, Format: tar.FormatPAX}, data: r("x", 513)},
	}
	f, err := os.Create("go-writer.tar")
	if err != nil {
		panic(err)
	}
	tw := tar.NewWriter(f)
	for i, e := range es {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			fmt.Printf("%d %q refused: %v\n", i, e.hdr.Name, err)
			continue
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			panic(err)
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
