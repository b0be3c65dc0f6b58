package rdb

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"os"
)

// input is the byte source of a Reader: it counts the offset, folds every byte it hands
// out into the running CRC64, and knows how many bytes can remain when the size of the
// input is known, so that a length read from the file can be checked before anything is
// allocated for it.
type input struct {
	br   *bufio.Reader
	src  io.Reader
	off  int64
	size int64 // total bytes, -1 when unknown
	crc  uint64
}

// chunkSize bounds a single allocation made for a length the input cannot vouch for
// (when its size is unknown): such reads grow their buffer as the bytes actually arrive.
const chunkSize = 1 << 20

func newInput(src io.Reader, size int64) input {
	if size <= 0 {
		size = detectSize(src)
	}
	return input{br: bufio.NewReaderSize(src, 64<<10), src: src, size: size}
}

// detectSize finds how many bytes src holds from its current position, or -1.
func detectSize(src io.Reader) int64 {
	switch s := src.(type) {
	case interface{ Len() int }:
		return int64(s.Len())
	case *os.File:
		st, err := s.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return -1
		}
		pos, err := s.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return st.Size() - pos
	}
	return -1
}

// remaining is how many bytes can still come, MaxInt64 when unknown.
func (in *input) remaining() int64 {
	if in.size < 0 {
		return math.MaxInt64
	}
	return in.size - in.off
}

func (in *input) readByte() (byte, error) {
	c, err := in.br.ReadByte()
	if err != nil {
		return 0, err
	}
	in.crc = crcTables[0][byte(in.crc)^c] ^ in.crc>>8
	in.off++
	return c, nil
}

func (in *input) readFull(p []byte) error {
	n, err := io.ReadFull(in.br, p)
	in.crc = CRC64(in.crc, p[:n])
	in.off += int64(n)
	return err
}

// readN reads n bytes into buf (reusing its capacity). When the input's size is unknown a
// large n is read in chunks, so that a corrupt length costs at most what is really there.
func (in *input) readN(buf []byte, n int64) ([]byte, error) {
	if n <= chunkSize || in.size >= 0 {
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		return buf, in.readFull(buf)
	}
	buf = buf[:0]
	for int64(len(buf)) < n {
		step := n - int64(len(buf))
		if step > chunkSize {
			step = chunkSize
		}
		if len(buf)+int(step) > cap(buf) {
			grown := make([]byte, len(buf), max(2*cap(buf), len(buf)+int(step)))
			copy(grown, buf)
			buf = grown
		}
		if err := in.readFull(buf[len(buf) : len(buf)+int(step)]); err != nil {
			return buf, err
		}
		buf = buf[:len(buf)+int(step)]
	}
	return buf, nil
}

// discard skips n bytes, still folding them into the CRC.
func (in *input) discard(n int64) error {
	for n > 0 {
		step := n
		if step > 32<<10 {
			step = 32 << 10
		}
		p, err := in.br.Peek(int(step))
		in.crc = CRC64(in.crc, p)
		in.off += int64(len(p))
		n -= int64(len(p))
		if _, derr := in.br.Discard(len(p)); derr != nil {
			return derr
		}
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// rest returns what the input holds after the bytes read so far.
func (in *input) rest() io.Reader {
	n := in.br.Buffered()
	p, _ := in.br.Peek(n)
	return io.MultiReader(bytes.NewReader(bytes.Clone(p)), in.src)
}
