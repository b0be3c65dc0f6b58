package rdb

// The numbers of the RDB format: object type bytes and opcodes (Redis's src/rdb.h; Valkey's
// src/rdb.h where Valkey differs), the RDB version each type first appeared in, and the
// names this package reports for them.

// Object types, the byte before a key.
const (
	typeString            = 0
	typeList              = 1  // linked list of strings (before Redis 3.2)
	typeSet               = 2  // hashtable set
	typeZSet              = 3  // skiplist sorted set, scores as strings (before Redis 4.0)
	typeHash              = 4  // hashtable hash
	typeZSet2             = 5  // skiplist sorted set, binary scores (RDB 8, Redis 4.0)
	typeModulePreGA       = 6  // module value of Redis 4.0 release candidates: refused
	typeModule2           = 7  // module value with self-describing opcodes (RDB 8)
	typeHashZipmap        = 9  // zipmap (before Redis 2.6)
	typeListZiplist       = 10 // ziplist list (before Redis 3.2)
	typeSetIntset         = 11
	typeZSetZiplist       = 12
	typeHashZiplist       = 13
	typeListQuicklist     = 14 // quicklist of ziplists (RDB 7, Redis 3.2)
	typeStreamListpacks   = 15 // stream (RDB 9, Redis 5.0)
	typeHashListpack      = 16 // RDB 10, Redis 7.0
	typeZSetListpack      = 17 // RDB 10
	typeListQuicklist2    = 18 // quicklist of listpacks and plain nodes (RDB 10)
	typeStreamListpacks2  = 19 // stream with first ID, max deleted ID, entries added (RDB 10)
	typeSetListpack       = 20 // RDB 11, Redis 7.2
	typeStreamListpacks3  = 21 // stream with consumer active time (RDB 11)
	typeHashMetadataPreGA = 22 // Redis 7.4 release candidates: hash with field TTLs, absolute
	typeHashLPExPreGA     = 23 // Redis 7.4 release candidates: listpack hash with field TTLs
	typeHashMetadata      = 24 // hash with field TTLs, relative to a minimum (RDB 12, Redis 7.4)
	typeHashListpackEx    = 25 // listpack hash with field TTLs (RDB 12)

	// Valkey 9 (files with the VALKEY magic) numbers these differently.
	typeValkeyHash2    = 22 // hash with field expiries (RDB 80, Valkey 9.0)
	typeValkeyPathHash = 23 // path hash (RDB 81): refused
)

// Opcodes, which share the type byte's position and count down from 255.
const (
	opSlotImport    = 243 // Valkey 9: a slot import in progress (job name, slot ranges)
	opSlotInfo      = 244 // cluster slot size hints
	opFunction2     = 245 // a function library (RDB 10)
	opFunctionPreGA = 246 // function library of Redis 7.0 release candidates: refused
	opModuleAux     = 247 // module data outside keys
	opIdle          = 248 // LRU idle time of the next key
	opFreq          = 249 // LFU frequency of the next key
	opAux           = 250 // auxiliary field
	opResizeDB      = 251 // size hints of the current database
	opExpireTimeMs  = 252 // expiry of the next key, unix ms, 8 bytes LE
	opExpireTime    = 253 // expiry of the next key, unix seconds, 4 bytes LE
	opSelectDB      = 254
	opEOF           = 255
)

// Quicklist 2 node containers.
const (
	quicklistPlain  = 1
	quicklistPacked = 2
)

// Stream listpack entry flags.
const (
	streamItemDeleted    = 1
	streamItemSameFields = 2
)

// Module value opcodes (RDB_MODULE_OPCODE_*).
const (
	moduleOpEOF    = 0
	moduleOpSInt   = 1
	moduleOpUInt   = 2
	moduleOpFloat  = 3
	moduleOpDouble = 4
	moduleOpString = 5
)

// Versions this package reads and writes.
const (
	MinReadVersion  = 1
	MaxReadVersion  = 12
	MinWriteVersion = 9
	MaxWriteVersion = 12
	// DefaultWriteVersion is what Redis 7.0 writes and loads.
	DefaultWriteVersion = 10
	// Valkey 9 files carry the VALKEY magic and versions from 80 on.
	valkeyMinVersion = 80
	valkeyMaxVersion = 81
)

// typeInfo describes an object type: its Redis data type, the word for its encoding, and
// the first RDB version that knows it.
type typeInfo struct {
	vtype      ValueType
	encoding   string
	minVersion int
}

var redisTypes = [...]typeInfo{
	typeString:            {TypeString, "string", 1},
	typeList:              {TypeList, "linkedlist", 1},
	typeSet:               {TypeSet, "hashtable", 1},
	typeZSet:              {TypeZSet, "skiplist", 1},
	typeHash:              {TypeHash, "hashtable", 1},
	typeZSet2:             {TypeZSet, "skiplist", 8},
	typeModulePreGA:       {TypeModule, "module", 8},
	typeModule2:           {TypeModule, "module", 8},
	typeHashZipmap:        {TypeHash, "zipmap", 2},
	typeListZiplist:       {TypeList, "ziplist", 2},
	typeSetIntset:         {TypeSet, "intset", 2},
	typeZSetZiplist:       {TypeZSet, "ziplist", 2},
	typeHashZiplist:       {TypeHash, "ziplist", 2},
	typeListQuicklist:     {TypeList, "quicklist", 7},
	typeStreamListpacks:   {TypeStream, "stream", 9},
	typeHashListpack:      {TypeHash, "listpack", 10},
	typeZSetListpack:      {TypeZSet, "listpack", 10},
	typeListQuicklist2:    {TypeList, "quicklist", 10},
	typeStreamListpacks2:  {TypeStream, "stream", 10},
	typeSetListpack:       {TypeSet, "listpack", 11},
	typeStreamListpacks3:  {TypeStream, "stream", 11},
	typeHashMetadataPreGA: {TypeHash, "hashtable", 12},
	typeHashLPExPreGA:     {TypeHash, "listpackex", 12},
	typeHashMetadata:      {TypeHash, "hashtable", 12},
	typeHashListpackEx:    {TypeHash, "listpackex", 12},
}

// lookupType returns what an object type byte means in a file of the given family, and
// false when the byte is no object type there.
func lookupType(t byte, valkey bool) (typeInfo, bool) {
	if valkey {
		switch {
		case t == typeValkeyHash2:
			return typeInfo{TypeHash, "hashtable", valkeyMinVersion}, true
		case t == typeValkeyPathHash:
			return typeInfo{TypeHash, "pathhash", valkeyMaxVersion}, true
		case t > typeStreamListpacks3:
			return typeInfo{}, false
		}
	}
	if int(t) >= len(redisTypes) || redisTypes[t].vtype == 0 {
		return typeInfo{}, false
	}
	return redisTypes[t], true
}

// moduleNameCharset is the alphabet of module type names (src/module.c).
const moduleNameCharset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// ModuleName decodes a 64-bit module type ID: 9 characters of 6 bits each from the top,
// then a 10-bit encoding version.
func ModuleName(id uint64) (name string, encver int) {
	var b [9]byte
	v := id >> 10
	for i := 8; i >= 0; i-- {
		b[i] = moduleNameCharset[v&63]
		v >>= 6
	}
	return string(b[:]), int(id & 1023)
}
