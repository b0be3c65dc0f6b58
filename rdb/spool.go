package rdb

import (
	"bufio"
	"io"
	"os"
)

// A spool holds bytes that must be written after a count that is only known once they are
// all seen: the nodes of a quicklist (their number comes before them), the elements of a
// large set whose size nobody announced, a stream's consumer groups. It keeps up to limit
// bytes in memory and moves to an unlinked temporary file beyond that, so a collection of
// any size costs bounded memory.
type spool struct {
	mem   []byte
	file  *os.File
	fw    *bufio.Writer
	size  int64
	limit int
	dir   string
}

func (s *spool) emit(p []byte) error {
	s.size += int64(len(p))
	if s.file == nil {
		if n := len(s.mem) + len(p); n <= s.limit {
			if n > cap(s.mem) {
				// Double (append grows big slices by a quarter, which would cost five
				// times the limit in total).
				grown := make([]byte, len(s.mem), min(max(2*cap(s.mem), n, 4096), s.limit))
				copy(grown, s.mem)
				s.mem = grown
			}
			s.mem = append(s.mem, p...)
			return nil
		}
		f, err := os.CreateTemp(s.dir, "strata-rdb-*.spool")
		if err != nil {
			return err
		}
		// Unlinked at once: the file lives as long as it is open, and nothing is left
		// behind if the process dies.
		_ = os.Remove(f.Name())
		s.file = f
		if s.fw == nil {
			s.fw = bufio.NewWriterSize(f, 64<<10)
		} else {
			s.fw.Reset(f)
		}
		if _, err := s.fw.Write(s.mem); err != nil {
			return err
		}
		s.mem = s.mem[:0]
	}
	_, err := s.fw.Write(p)
	return err
}

// open returns a reader over everything written so far.
func (s *spool) open() (io.Reader, error) {
	if s.file == nil {
		return &memReader{b: s.mem}, nil
	}
	if err := s.fw.Flush(); err != nil {
		return nil, err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return bufio.NewReaderSize(s.file, 64<<10), nil
}

// drainTo passes everything written so far to emit, in chunks.
func (s *spool) drainTo(emit func([]byte) error) error {
	if s.file == nil {
		return emit(s.mem)
	}
	r, err := s.open()
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := emit(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// reset empties the spool, closing its file; the memory buffer is kept for reuse.
func (s *spool) reset() {
	if s.file != nil {
		_ = s.file.Close()
		s.file = nil
	}
	s.mem = s.mem[:0]
	s.size = 0
}

type memReader struct {
	b []byte
}

func (m *memReader) Read(p []byte) (int, error) {
	if len(m.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.b)
	m.b = m.b[n:]
	return n, nil
}
