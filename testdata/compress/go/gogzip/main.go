// gogzip gzips standard input to standard output with Go's standard library, the way Docker
// engines compress a layer blob on push: gzip.NewWriterLevel with a zero Header, Write, Close.
//
// Usage: gogzip [-level N] [-chunk N] [-raw]
//
//	-level  compression level, -2..9 (default -1, Go's DefaultCompression)
//	-chunk  feed the compressor in writes of this many bytes (default: 32768, like io.Copy)
//	-raw    write raw deflate (flate.NewWriter) instead of gzip
//
// Build: go build -o gogzip . (no dependencies beyond the standard library).
package main

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
)

func main() {
	level := flag.Int("level", gzip.DefaultCompression, "compression level")
	chunk := flag.Int("chunk", 32*1024, "write size")
	raw := flag.Bool("raw", false, "raw deflate instead of gzip")
	version := flag.Bool("version", false, "print the Go version and exit")
	flag.Parse()
	if *version {
		fmt.Println(runtime.Version())
		return
	}
	if *chunk < 1 {
		fail(fmt.Errorf("chunk must be positive"))
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	var w io.WriteCloser
	var err error
	if *raw {
		w, err = flate.NewWriter(out, *level)
	} else {
		w, err = gzip.NewWriterLevel(out, *level)
	}
	if err != nil {
		fail(err)
	}
	buf := make([]byte, *chunk)
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	for {
		n, rerr := io.ReadFull(in, buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				fail(err)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			fail(rerr)
		}
	}
	if err := w.Close(); err != nil {
		fail(err)
	}
	if err := out.Flush(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gogzip:", err)
	os.Exit(2)
}
