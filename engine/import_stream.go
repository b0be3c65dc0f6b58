package engine

import (
	"fmt"

	"github.com/stratadb/strata/encoding"
)

// Streams in and out go through the streams' own exporter and importer (stream_io.go), in the
// order of an RDB file: the entries, the stream's metadata, then each group with its pending
// entries and its consumers. A KeyImporter of a stream hands each part on.

func (im *KeyImporter) streamPart(what string) (*StreamImporter, error) {
	if err := im.check(encoding.TypeStream); err != nil {
		return nil, err
	}
	if im.stream == nil {
		return nil, im.fail(fmt.Errorf("%w: a stream %s for key %q", ErrImportOrder, what, im.key))
	}
	return im.stream, nil
}

// StreamEntry adds an entry (IDs ascending); fv alternates fields and values.
func (im *KeyImporter) StreamEntry(id StreamID, fv [][]byte) error {
	s, err := im.streamPart("entry")
	if err != nil {
		return err
	}
	return s.Entry(id, fv)
}

// StreamMeta sets the stream's metadata, after its entries.
func (im *KeyImporter) StreamMeta(m StreamMeta) error {
	s, err := im.streamPart("metadata")
	if err != nil {
		return err
	}
	return s.Meta(m)
}

// StreamGroup starts a consumer group.
func (im *KeyImporter) StreamGroup(g StreamGroupMeta) error {
	s, err := im.streamPart("group")
	if err != nil {
		return err
	}
	return s.Group(g)
}

// StreamPending adds an entry to the current group's pending list.
func (im *KeyImporter) StreamPending(p PendingEntry) error {
	s, err := im.streamPart("pending entry")
	if err != nil {
		return err
	}
	return s.Pending(p)
}

// StreamConsumer adds a consumer of the current group, with the pending entries it owns.
func (im *KeyImporter) StreamConsumer(c StreamConsumerMeta) error {
	s, err := im.streamPart("consumer")
	if err != nil {
		return err
	}
	return s.Consumer(c)
}
