package engine

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Redis's error replies, byte for byte as redis-server 7.0 sends them (without the leading
// '-' and trailing CRLF). This file is the one place they live: the engine returns them, the
// server writes err.Error() as the reply. Errors that embed a value are built by the functions
// at the end.
var (
	ErrWrongType      = errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")
	ErrNotInteger     = errors.New("ERR value is not an integer or out of range")
	ErrNotFloat       = errors.New("ERR value is not a valid float")
	ErrOverflow       = errors.New("ERR increment or decrement would overflow")
	ErrNaNOrInfinity  = errors.New("ERR increment would produce NaN or Infinity")
	ErrSyntax         = errors.New("ERR syntax error")
	ErrNoSuchKey      = errors.New("ERR no such key")
	ErrIndexRange     = errors.New("ERR index out of range")
	ErrBitOffset      = errors.New("ERR bit offset is not an integer or out of range")
	ErrBitValue       = errors.New("ERR bit is not an integer or out of range")
	ErrStringTooLong  = errors.New("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	ErrOffsetRange    = errors.New("ERR offset is out of range")
	ErrDBIndexRange   = errors.New("ERR DB index is out of range")
	ErrInvalidDBIndex = errors.New("ERR invalid DB index")
	ErrSameObject     = errors.New("ERR source and destination objects are the same")
	ErrInvalidCursor  = errors.New("ERR invalid cursor")
	ErrPositive       = errors.New("ERR value is out of range, must be positive")
	ErrNotPositive    = errors.New("ERR value is out of range, value must between -9223372036854775808 and 9223372036854775807")
	ErrTimeout        = errors.New("ERR timeout is not a float or out of range")
	ErrTimeoutNeg     = errors.New("ERR timeout is negative")
	ErrNXXXGTLT       = errors.New("ERR NX and XX, GT or LT options at the same time are not compatible")
	ErrGTLTNX         = errors.New("ERR GT, LT, and/or NX options at the same time are not compatible")
	ErrNumKeysArgs    = errors.New("ERR Number of keys can't be greater than number of args")
	ErrNumKeysZero    = errors.New("ERR numkeys should be greater than 0")
	ErrMinMaxFloat    = errors.New("ERR min or max is not a float")
	ErrMinMaxLex      = errors.New("ERR min or max not valid string range item")
	ErrBitfieldType   = errors.New("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
	ErrBitfieldRO     = errors.New("ERR BITFIELD_RO only supports the GET subcommand")
	ErrBitopNot       = errors.New("ERR BITOP NOT must be called with a single source key.")
	ErrBitPosBit      = errors.New("ERR The bit argument must be 1 or 0.")
	ErrLCSIdxLen      = errors.New("ERR If you want both the length and indexes, please just use IDX.")
	ErrLCSStrings     = errors.New("ERR The specified keys must contain string values")

	// Strings and bitmaps.
	ErrDecrOverflow     = errors.New("ERR decrement would overflow")
	ErrBitfieldOverflow = errors.New("ERR Invalid OVERFLOW type specified")
	ErrLCSTooLong       = errors.New("ERR String too long for LCS")
	ErrLCSTableSize     = errors.New("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")

	ErrNoAuth         = errors.New("NOAUTH Authentication required.")
	ErrWrongPass      = errors.New("WRONGPASS invalid username-password pair or user is disabled.")
	ErrAuthNoPassword = errors.New("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	ErrMaxClients     = errors.New("ERR max number of clients reached")
	ErrNoProto        = errors.New("NOPROTO unsupported protocol version")
	ErrExecAbort      = errors.New("EXECABORT Transaction discarded because of previous errors.")
	ErrMultiNested    = errors.New("ERR MULTI calls can not be nested")
	ErrExecNoMulti    = errors.New("ERR EXEC without MULTI")
	ErrDiscardNoMulti = errors.New("ERR DISCARD without MULTI")
	ErrWatchInMulti   = errors.New("ERR WATCH inside MULTI is not allowed")
	ErrOOM            = errors.New("OOM command not allowed when used memory > 'maxmemory'.")
	ErrNoSuchClient   = errors.New("ERR No such client")
	ErrClientName     = errors.New("ERR Client names cannot contain spaces, newlines or special characters.")
	ErrUnsupported    = errors.New("ERR unsupported")

	// Sorted sets and GEO.
	ErrScoreNaN          = errors.New("ERR resulting score is not a number (NaN)")
	ErrXXNX              = errors.New("ERR XX and NX options at the same time are not compatible")
	ErrIncrPair          = errors.New("ERR INCR option supports a single increment-element pair")
	ErrRangeLimit        = errors.New("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
	ErrLexWithScores     = errors.New("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
	ErrWeightFloat       = errors.New("ERR weight value is not a float")
	ErrGeoMember         = errors.New("ERR could not decode requested zset member")
	ErrGeoRadius         = errors.New("ERR need numeric radius")
	ErrGeoRadiusNegative = errors.New("ERR radius cannot be negative")
	ErrGeoUnit           = errors.New("ERR unsupported unit provided. please use M, KM, FT, MI")
	ErrGeoWidth          = errors.New("ERR need numeric width")
	ErrGeoHeight         = errors.New("ERR need numeric height")
	ErrGeoBoxNegative    = errors.New("ERR height or width cannot be negative")
	ErrGeoCount          = errors.New("ERR COUNT must be > 0")
	ErrGeoAny            = errors.New("ERR the ANY argument requires COUNT argument")

	// Transactions.
	ErrNotInMulti = errors.New("ERR Command not allowed inside a transaction")

	// Persistence: SAVE, BGSAVE, DUMP, RESTORE, loading a dump.
	ErrBgsaveInProgress = errors.New("ERR Background save already in progress")
	ErrSaveFailed       = errors.New("ERR")
	ErrBusyKey          = errors.New("BUSYKEY Target key name already exists.")
	ErrInvalidTTL       = errors.New("ERR Invalid TTL value, must be >= 0")
	ErrInvalidIdleTime  = errors.New("ERR Invalid IDLETIME value, must be >= 0")
	ErrInvalidFreq      = errors.New("ERR Invalid FREQ value, must be >= 0 and <= 255")
	ErrBadDataFormat    = errors.New("ERR Bad data format") // ErrDumpPayload is with FUNCTION's errors
	ErrLoading          = errors.New("LOADING Redis is loading the dataset in memory")

	// CHECKPOINT (Strata's own: a consistent copy of the data directory for the tools).
	ErrCheckpointName = errors.New("ERR invalid checkpoint name (letters, digits, '-', '_' and '.', not starting with '.', at most 100)")

	// BGREWRITEAOF.
	ErrAOFRewriteInProgress = errors.New("ERR Background append only file rewriting already in progress")
	ErrAOFRewriteFailed     = errors.New("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")

	// CONFIG and CLIENT.
	ErrNoConfigFile    = errors.New("ERR The server is running without a config file")
	ErrInvalidClientID = errors.New("ERR Invalid client ID")
	ErrClientIDRange   = errors.New("ERR client-id should be greater than 0")
	// The keyspace: DB indexes (MOVE, COPY, SWAPDB), EXPIRE's options, OBJECT's policies.
	ErrIntRange        = errors.New("ERR value is out of range, value must between -2147483648 and 2147483647")
	ErrInvalidFirstDB  = errors.New("ERR invalid first DB index")
	ErrInvalidSecondDB = errors.New("ERR invalid second DB index")
	ErrGTAndLT         = errors.New("ERR GT and LT options at the same time are not compatible")
	ErrLFUNotSelected  = errors.New("ERR An LFU maxmemory policy is not selected, access frequency not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	ErrLFUSelected = errors.New("ERR An LFU maxmemory policy is selected, idle time not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	// Hashes, sets and HyperLogLog.
	ErrHashNotInteger = errors.New("ERR hash value is not an integer")
	ErrHashNotFloat   = errors.New("ERR hash value is not a float")
	ErrNaNOrInfArg    = errors.New("ERR value is NaN or Infinity")
	ErrOutOfRange     = errors.New("ERR value is out of range")
	ErrCountRange     = errors.New("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
	ErrLimitNegative  = errors.New("ERR LIMIT can't be negative")
	ErrNotHLL         = errors.New("WRONGTYPE Key is not a valid HyperLogLog string value.")
	ErrHLLCorrupt     = errors.New("INVALIDOBJ Corrupted HLL object detected")
	ErrHLLNotSparse   = errors.New("ERR HLL encoding is not sparse")
	ErrPFDebugNoKey   = errors.New("ERR The specified key does not exist")
	// Lists, blocking commands and SORT.
	ErrRankZero       = errors.New("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
	ErrCountNegative  = errors.New("ERR COUNT can't be negative")
	ErrMaxLenNegative = errors.New("ERR MAXLEN can't be negative")
	ErrCountPositive  = errors.New("ERR count should be greater than 0")
	ErrUnblocked      = errors.New("UNBLOCKED client unblocked via CLIENT UNBLOCK")
	ErrUnblockReason  = errors.New("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
	ErrSortScores     = errors.New("ERR One or more scores can't be converted into double")

	// ErrProtectedMode is sent to a non-loopback client when no password is set and protected
	// mode is on; the connection is then closed.
	ErrProtectedMode = errors.New("DENIED Redis is running in protected mode because protected " +
		"mode is enabled and no password is set for the default user. In this mode connections " +
		"are only accepted from the loopback interface. If you want to connect from external " +
		"computers to Redis you may adopt one of the following solutions: 1) Just disable " +
		"protected mode sending the command 'CONFIG SET protected-mode no' from the loopback " +
		"interface by connecting to Redis from the same host the server is running, however " +
		"MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG " +
		"REWRITE to make this change permanent. 2) Alternatively you can just disable the " +
		"protected mode by editing the Redis configuration file, and setting the protected " +
		"mode option to 'no', and then restarting the server. 3) If you started the server " +
		"manually just for testing, restart it with the '--protected-mode no' option. 4) Set " +
		"up an authentication password for the default user. NOTE: You only need to do one of " +
		"the above things in order for the server to start accepting connections from the " +
		"outside.")

	// Scripting and functions (EVAL, SCRIPT, FUNCTION, FCALL).
	ErrNoScript          = errors.New("NOSCRIPT No matching script. Please use EVAL.")
	ErrNumKeysNegative   = errors.New("ERR Number of keys can't be negative")
	ErrBadNumKeys        = errors.New("ERR Bad number of keys provided")
	ErrBusyScript        = errors.New("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
	ErrBusyFunction      = errors.New("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
	ErrNotBusy           = errors.New("NOTBUSY No scripts in execution right now.")
	ErrUnkillable        = errors.New("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
	ErrScriptWriteFlagRO = errors.New("ERR Can not execute a script with write flag using *_ro command.")
	ErrScriptFlushOption = errors.New("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
	ErrScriptDebugOption = errors.New("ERR Use SCRIPT DEBUG YES/SYNC/NO")
	ErrScriptDebugUnsupp = errors.New("ERR SCRIPT DEBUG YES and SYNC need the Lua debugger, which Strata does not have; SCRIPT DEBUG NO is supported")
	ErrFunctionNotFound  = errors.New("ERR Function not found")
	ErrLibraryNotFound   = errors.New("ERR Library not found")
	ErrFunctionFlush     = errors.New("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
	ErrLibraryNameArg    = errors.New("ERR library name argument was not given")
	ErrRestorePolicy     = errors.New("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
	ErrDumpPayload       = errors.New("ERR DUMP payload version or checksum are wrong")
	ErrPayloadNotFunc    = errors.New("ERR given type is not a function")
	ErrNoFunctionsLoaded = errors.New("ERR No functions registered")
	// Introspection: MONITOR, SLOWLOG, CLIENT PAUSE, DEBUG, MEMORY.
	ErrReplicaKeyspace     = errors.New("ERR Replica can't interact with the keyspace")
	ErrMonitorDenyBlocking = errors.New("ERR MONITOR isn't allowed for DENY BLOCKING client")
	ErrSlowlogCount        = errors.New("ERR count should be greater than or equal to -1")
	ErrPauseMode           = errors.New("ERR CLIENT PAUSE mode must be WRITE or ALL")
	ErrTimeoutInteger      = errors.New("ERR timeout is not an integer or out of range")
	ErrDebugNotAllowed     = errors.New("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", " +
		"you can run it from a local connection, otherwise you need to set this option in the configuration file, " +
		"and then restart the server.")
	ErrDebugProtocolType = errors.New("ERR Wrong protocol type name. Please use one of the following: " +
		"string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
	ErrDebugRESP2           = errors.New("ERR RESP2 is not supported by this command")
	ErrDebugReloadOption    = errors.New("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
	ErrDebugPackedThreshold = errors.New("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
	ErrNotListpack          = errors.New("ERR Not a listpack encoded object.")
	ErrNotQuicklist         = errors.New("ERR Not a quicklist encoded object.")
	ErrNotSDS               = errors.New("ERR Not an sds encoded string.")
	ErrNoSuchFile           = errors.New("ERR No such file or directory")
	ErrClientEvictionOff    = errors.New("ERR maxmemory-clients is disabled.")
	ErrClusterDebugOnly     = errors.New("ERR Debug option only available for cluster mode enabled setup!")
	// Client-side caching (CLIENT TRACKING, CLIENT CACHING).
	ErrTrackingRedirectTwice = errors.New("ERR A client can only redirect to a single other client")
	ErrTrackingNoRedirect    = errors.New("ERR The client ID you want redirect to does not exist")
	ErrTrackingPrefixBcast   = errors.New("ERR PREFIX option requires BCAST mode to be enabled")
	ErrTrackingBcastSwitch   = errors.New("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
	ErrTrackingOptBcast      = errors.New("ERR OPTIN and OPTOUT are not compatible with BCAST")
	ErrTrackingOptBoth       = errors.New("ERR You can't specify both OPTIN mode and OPTOUT mode")
	ErrTrackingOptSwitch     = errors.New("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
	ErrCachingNotOpt         = errors.New("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
	ErrCachingYesNotOptin    = errors.New("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
	ErrCachingNoNotOptout    = errors.New("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")

	// SHUTDOWN.
	ErrNoShutdownInProgress = errors.New("ERR No shutdown in progress.")
	ErrShutdownFailed       = errors.New("ERR Errors trying to SHUTDOWN. Check logs.")

	// Streams.
	ErrStreamID              = errors.New("ERR Invalid stream ID specified as stream command argument")
	ErrStreamIDSmall         = errors.New("ERR The ID specified in XADD is equal or smaller than the target stream top item")
	ErrStreamIDZero          = errors.New("ERR The ID specified in XADD must be greater than 0-0")
	ErrStreamExhausted       = errors.New("ERR The stream has exhausted the last possible ID, unable to add more items")
	ErrStreamTooLarge        = errors.New("ERR Elements are too large to be stored")
	ErrStreamTrimBoth        = errors.New("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
	ErrStreamMaxLenNeg       = errors.New("ERR The MAXLEN argument must be >= 0.")
	ErrStreamLimitNeg        = errors.New("ERR The LIMIT argument must be >= 0.")
	ErrStreamLimitNoTrim     = errors.New("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
	ErrStreamXTrimNoTrim     = errors.New("ERR syntax error, XTRIM must be called with a trimming strategy")
	ErrStreamLimitNoApprox   = errors.New("ERR syntax error, LIMIT cannot be used without the special ~ option")
	ErrStreamStartID         = errors.New("ERR invalid start ID for the interval")
	ErrStreamEndID           = errors.New("ERR invalid end ID for the interval")
	ErrXReadUnbalanced       = errors.New("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
	ErrXReadGroupOption      = errors.New("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
	ErrXReadNoAckOption      = errors.New("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
	ErrXReadGroupMissing     = errors.New("ERR Missing GROUP option for XREADGROUP")
	ErrXReadGroupDollar      = errors.New("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
	ErrXReadGreater          = errors.New("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
	ErrTimeoutNotInteger     = errors.New("ERR timeout is not an integer or out of range")
	ErrXGroupNoKey           = errors.New("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
	ErrBusyGroup             = errors.New("BUSYGROUP Consumer Group name already exists")
	ErrEntriesRead           = errors.New("ERR value for ENTRIESREAD must be positive or -1")
	ErrXSetIDSmall           = errors.New("ERR The ID specified in XSETID is smaller than the target stream top item")
	ErrXSetIDGivenMaxDeleted = errors.New("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
	ErrXSetIDEntriesAdded    = errors.New("ERR The entries_added specified in XSETID is smaller than the target stream length")
	ErrEntriesAddedNeg       = errors.New("ERR entries_added must be positive")
	ErrXClaimMinIdle         = errors.New("ERR Invalid min-idle-time argument for XCLAIM")
	ErrXClaimIdle            = errors.New("ERR Invalid IDLE option argument for XCLAIM")
	ErrXClaimTime            = errors.New("ERR Invalid TIME option argument for XCLAIM")
	ErrXClaimRetryCount      = errors.New("ERR Invalid RETRYCOUNT option argument for XCLAIM")
	ErrXAutoClaimMinIdle     = errors.New("ERR Invalid min-idle-time argument for XAUTOCLAIM")
	ErrXAutoClaimCount       = errors.New("ERR COUNT must be > 0")
	ErrXAutoClaimMemory      = errors.New("ERR Insufficient memory, failed allocating transient memory, COUNT too high.")
	// Clients blocked in XREADGROUP whose stream or group went away.
	ErrStreamKeyGone   = errors.New("UNBLOCKED the stream key no longer exists")
	ErrStreamGroupGone = errors.New("NOGROUP the consumer group this client was blocked on no longer exists")

	// Protocol errors; the connection is closed after them.
	ErrProtoInvalidMultibulk = errors.New("ERR Protocol error: invalid multibulk length")
	ErrProtoInvalidBulk      = errors.New("ERR Protocol error: invalid bulk length")
	ErrProtoUnauthMultibulk  = errors.New("ERR Protocol error: unauthenticated multibulk length")
	ErrProtoUnauthBulk       = errors.New("ERR Protocol error: unauthenticated bulk length")
	ErrProtoBigInline        = errors.New("ERR Protocol error: too big inline request")
	ErrProtoBigMultibulk     = errors.New("ERR Protocol error: too big mbulk count string")
	ErrProtoBigBulkCount     = errors.New("ERR Protocol error: too big bulk count string")
	ErrProtoUnbalanced       = errors.New("ERR Protocol error: unbalanced quotes in request")
)

// ACL: rule errors (the reason part of "Error in ACL SETUSER modifier '...': <reason>" and of
// ACL file errors), NOPERM denials, and the ACL command's own errors.
var (
	ErrACLSyntax            = errors.New("Syntax error")
	ErrACLUnknownName       = errors.New("Unknown command or category name in ACL")
	ErrACLKeysAfterAll      = errors.New("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")
	ErrACLChannelsAfterAll  = errors.New("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")
	ErrACLNoSuchPassword    = errors.New("The password you are trying to remove from the user does not exist")
	ErrACLBadHash           = errors.New("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
	ErrACLSubcommandArg     = errors.New("Allowing first-arg of a subcommand is not supported")
	ErrNoPermKey            = errors.New("NOPERM this user has no permissions to access one of the keys used as arguments")
	ErrNoPermChannel        = errors.New("NOPERM this user has no permissions to access one of the channels used as arguments")
	ErrACLUsernameSpaces    = errors.New("ERR Usernames can't contain spaces or null characters")
	ErrACLDeleteDefault     = errors.New("ERR The 'default' user cannot be removed")
	ErrACLGenpassBits       = errors.New("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
	ErrACLSaveFailed        = errors.New("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
	ErrACLNoFile            = errors.New("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
	ErrACLFileRejected      = errors.New("WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
	ErrHelloNoAuth          = errors.New("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	ErrTLSCANeeded          = errors.New("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!")
	errACLExecChangedPrefix = "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: "
)

// ErrNoPermCommand is the NOPERM denial of a command ("container|sub" for subcommands).
func ErrNoPermCommand(name string) error {
	return errors.New("NOPERM this user has no permissions to run the '" + name + "' command")
}

// ErrNoPermAtExec is EXEC's reply for a queued command the ACL no longer allows; reason is
// "command", "key" or "channel".
func ErrNoPermAtExec(reason string) error {
	why := map[string]string{
		"command": "no permission to execute the command or subcommand",
		"key":     "no permission to touch the specified keys",
		"channel": "no permission to access one of the channels used as arguments",
	}[reason]
	return errors.New(errACLExecChangedPrefix + why)
}

// ErrNoPermInScript is what a script's redis.call/pcall meets for a command the ACL denies
// (reason "command", "key" or "channel"), before the scripting layer adds its own suffix.
func ErrNoPermInScript(reason string) error {
	why := map[string]string{
		"command": "can't run this command or subcommand",
		"key":     "can't access at least one of the keys mentioned in the command arguments",
		"channel": "can't publish to the channel mentioned in the command",
	}[reason]
	return errors.New("ERR The user executing the script " + why)
}

// ErrACLSetUser is ACL SETUSER's reply to a rule it refuses.
func ErrACLSetUser(op string, reason error) error {
	return errors.New(sanitize("ERR Error in ACL SETUSER modifier '"+cString(op, len(op))+"': "+reason.Error(), 1<<20))
}

// ErrACLUnmatchedParen is ACL SETUSER's reply to a selector that is never closed.
func ErrACLUnmatchedParen(arg string) error {
	return errors.New(sanitize("ERR Unmatched parenthesis in acl selector starting at '"+cString(arg, len(arg))+"'.", 1<<20))
}

// ErrACLUnknownCategory names a category ACL CAT does not know.
func ErrACLUnknownCategory(name string) error {
	return errors.New(sanitize("ERR Unknown category '"+cString(name, 128)+"'", 1<<20))
}

// ErrACLUserNotFound is ACL DRYRUN's reply for a user that does not exist.
func ErrACLUserNotFound(name string) error {
	return errors.New(sanitize("ERR User '"+cString(name, len(name))+"' not found", 1<<20))
}

// ErrACLCommandNotFound is ACL DRYRUN's reply for a command that does not exist.
func ErrACLCommandNotFound(name string) error {
	return errors.New(sanitize("ERR Command '"+cString(name, len(name))+"' not found", 1<<20))
}

// ErrSubcommandSyntax is a container's reply to a subcommand it knows called with arguments
// it does not take (Redis's addReplySubcommandSyntaxError).
func ErrSubcommandSyntax(sub, container string) error {
	return errors.New(sanitize("ERR unknown subcommand or wrong number of arguments for '"+cString(sub, 128)+
		"'. Try "+strings.ToUpper(container)+" HELP.", 1<<20))
}

// ErrACLLoad wraps the problems ACL LOAD found in the ACL file (one line of messages).
func ErrACLLoad(problems string) error {
	return errors.New(sanitize("ERR "+problems, 1<<20))
}

// ErrUndeclaredKey is returned when a command touches a key it did not lock: a bug in a key
// spec for a single command; for a script, the signal to run it again under the global latch.
var ErrUndeclaredKey = errors.New("ERR internal error: a key was accessed without being declared")

// ErrCorrupt is returned when stored data does not decode: a bug or a damaged disk, never
// user input. The message names what was being read.
var ErrCorrupt = errors.New("ERR internal error: corrupt data")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// ErrWrongArity is "ERR wrong number of arguments for 'name' command"; subcommands are named
// "container|sub" as Redis 7 names them.
func ErrWrongArity(name string) error {
	return errors.New("ERR wrong number of arguments for '" + name + "' command")
}

// ErrUnknownCommand is the reply to a command name that does not exist. As Redis does, it
// quotes arguments while the quoted list is under 128 bytes, each cut to what remains of 128,
// and (as C's %.*s) at the first NUL byte.
func ErrUnknownCommand(name string, args [][]byte) error {
	var list strings.Builder
	for _, a := range args {
		if list.Len() >= 128 {
			break
		}
		list.WriteString("'")
		list.WriteString(cString(string(a), 128-list.Len()))
		list.WriteString("' ")
	}
	return errors.New(sanitize("ERR unknown command '"+cString(name, 128)+
		"', with args beginning with: "+list.String(), 1<<20))
}

// cString is s as C's "%.*s" prints it with precision n: cut at n bytes or the first NUL.
func cString(s string, n int) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if n < 0 {
		n = 0
	}
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// ErrUnknownSubcommand is the reply to CONTAINER <unknown>, e.g. "ERR unknown subcommand
// 'foo'. Try CONFIG HELP."
func ErrUnknownSubcommand(sub, container string) error {
	return errors.New(sanitize("ERR unknown subcommand '"+cString(sub, 128)+"'. Try "+
		strings.ToUpper(container)+" HELP.", 1<<20))
}

// ErrSubscribedContext is the reply of a RESP2 client in pub/sub mode to a command it may
// not run there (cmd is the full name, "client|id").
func ErrSubscribedContext(cmd string) error {
	return errors.New("ERR Can't execute '" + cmd + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
}

// ErrTrackingPrefixOverlap is CLIENT TRACKING's reply to prefixes that overlap, among the
// ones given (existing false) or with one the client already has.
func ErrTrackingPrefixOverlap(prefix, other string, existing bool) error {
	with := "another provided"
	if existing {
		with = "an existing"
	}
	return errors.New(sanitize("ERR Prefix '"+prefix+"' overlaps with "+with+" prefix '"+other+
		"'. Prefixes for a single client must not overlap.", 1<<20))
}

// ErrConfigSetUnknown is CONFIG SET's reply to a name that is no directive.
func ErrConfigSetUnknown(name string) error {
	return errors.New(sanitize("ERR Unknown option or number of arguments for CONFIG SET - '"+name+"'", 1<<20))
}

// ErrConfigSet is CONFIG SET's reply to a value it refuses, with the reason.
func ErrConfigSet(name, reason string) error {
	return errors.New(sanitize("ERR CONFIG SET failed (possibly related to argument '"+name+"') - "+reason, 1<<20))
}

// ErrConfigRewrite is CONFIG REWRITE's reply when the file cannot be written.
func ErrConfigRewrite(err error) error {
	return errors.New(sanitize("ERR Rewriting config file: "+err.Error(), 1<<20))
}

// ErrUnknownClientType names a client type that is not normal, master, replica (slave) or
// pubsub.
func ErrUnknownClientType(name string) error {
	return errors.New(sanitize("ERR Unknown client type '"+name+"'", 1<<20))
}

// ErrNoSuchUser names an ACL user that does not exist.
func ErrNoSuchUser(name string) error {
	return errors.New(sanitize("ERR No such user '"+name+"'", 1<<20))
}

// ErrExecAbortBecause is EXEC's reply when EXEC itself is refused (wrong arity, NOAUTH ...):
// the transaction is discarded and the reason follows, without the generic "ERR " code, as
// Redis's execCommandAbort prints it.
func ErrExecAbortBecause(reason error) error {
	return errors.New("EXECABORT Transaction discarded because of: " +
		strings.TrimPrefix(reason.Error(), "ERR "))
}

// ErrExecInternal is EXEC's reply when a queued command's handler failed internally (a bug):
// the transaction's writes were dropped with it and nothing was committed.
func ErrExecInternal(name string) error {
	return errors.New("ERR internal error while running '" + name + "' inside EXEC: the transaction was discarded")
}

// ErrInvalidExpire is "ERR invalid expire time in 'cmd' command".
func ErrInvalidExpire(cmd string) error {
	return errors.New("ERR invalid expire time in '" + cmd + "' command")
}

// ErrLibraryExists is FUNCTION LOAD's reply to a library name in use (without REPLACE).
func ErrLibraryExists(name string) error {
	return errors.New("ERR Library '" + name + "' already exists")
}

// ErrFunctionExists is FUNCTION LOAD's reply to a function name another library holds.
func ErrFunctionExists(name string) error {
	return errors.New("ERR Function " + name + " already exists")
}

// ErrFunctionListArg is FUNCTION LIST's reply to an unknown argument.
func ErrFunctionListArg(arg string) error {
	return errors.New(sanitize("ERR Unknown argument "+arg, 1<<20))
}

// ErrFunctionLoadOption is FUNCTION LOAD's reply to an unknown option.
func ErrFunctionLoadOption(arg string) error {
	return errors.New(sanitize("ERR Unknown option given: "+arg, 1<<20))
}

// ErrUnsupportedOption is what EXPIRE and friends answer to an unknown flag (newlines in it
// become spaces, as Redis's addReplyErrorFormat makes them; C's %s ends it at a NUL byte).
// ErrPFDebugUnknown is PFDEBUG's reply to an unknown subcommand.
func ErrPFDebugUnknown(sub string) error {
	return errors.New(sanitize("ERR Unknown PFDEBUG subcommand '"+sub+"'", 1<<20))
}

// ErrUnknownOption is what several commands answer to an unknown flag.
func ErrUnsupportedOption(opt string) error {
	return errors.New(sanitize("ERR Unsupported option "+cString(opt, len(opt)), len(opt)+32))
}

// sanitize cuts s to at most n bytes and replaces the characters Redis replaces in error
// messages (newlines would break the protocol) with spaces.
func sanitize(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) > n {
		s = s[:n]
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// ErrNoLatencySamples is LATENCY GRAPH's reply for an event with no samples.
func ErrNoLatencySamples(event string) error {
	return errors.New(sanitize("ERR No samples available for event '"+event+"'", 1<<20))
}

// ErrDebugError is DEBUG ERROR's reply: the text given, newlines made spaces, as an error
// (its code is whatever the text starts with).
func ErrDebugError(text string) error { return errors.New(sanitize(text, len(text))) }

// Stream errors that name a key, a group or a consumer. Redis formats them with %s, which stops
// at a NUL byte, and replaces newlines with spaces.

// ErrNoGroupForKey is "NOGROUP No such consumer group 'g' for key name 'k'" (XGROUP, XINFO).
func ErrNoGroupForKey(group, key []byte) error {
	return errors.New(sanitize("NOGROUP No such consumer group '"+cString(string(group), 1<<20)+
		"' for key name '"+cString(string(key), 1<<20)+"'", 1<<20))
}

// ErrNoKeyOrGroup is "NOGROUP No such key 'k' or consumer group 'g'" (XPENDING, XCLAIM ...).
func ErrNoKeyOrGroup(key, group []byte) error {
	return errors.New(sanitize("NOGROUP No such key '"+cString(string(key), 1<<20)+
		"' or consumer group '"+cString(string(group), 1<<20)+"'", 1<<20))
}

// ErrNoGroupXReadGroup is XREADGROUP's NOGROUP error.
func ErrNoGroupXReadGroup(key, group []byte) error {
	return errors.New(sanitize("NOGROUP No such key '"+cString(string(key), 1<<20)+
		"' or consumer group '"+cString(string(group), 1<<20)+"' in XREADGROUP with GROUP option", 1<<20))
}

// ErrXClaimOption is XCLAIM's error for an option it does not know.
func ErrXClaimOption(opt []byte) error {
	return errors.New(sanitize("ERR Unrecognized XCLAIM option '"+cString(string(opt), 1<<20)+"'", 1<<20))
}

// ErrNeedOneKey is "ERR at least 1 input key is needed for 'cmd' command" (ZUNION and friends).
func ErrNeedOneKey(cmd string) error {
	return errors.New("ERR at least 1 input key is needed for '" + cmd + "' command")
}

// ErrInvalidLonLat is GEO's "ERR invalid longitude,latitude pair lon,lat" with C's "%f".
func ErrInvalidLonLat(lon, lat float64) error {
	return fmt.Errorf("ERR invalid longitude,latitude pair %s,%s", cFixed6(lon), cFixed6(lat))
}

// cFixed6 is C's printf "%f": six decimals, inf and nan spelled as glibc spells them.
func cFixed6(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// ErrGeoStoreOptions is "ERR <what> is not compatible with WITHDIST, WITHHASH and WITHCOORD
// options".
func ErrGeoStoreOptions(what string) error {
	return errors.New("ERR " + what + " is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
}

// ErrGeoFrom is "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for <cmd>".
func ErrGeoFrom(cmd string) error {
	return errors.New("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + cmd)
}

// ErrGeoBy is "ERR exactly one of BYRADIUS and BYBOX can be specified for <cmd>".
func ErrGeoBy(cmd string) error {
	return errors.New("ERR exactly one of BYRADIUS and BYBOX can be specified for " + cmd)
}

// ErrCheckpointFailed is CHECKPOINT's reply when Pebble could not make the copy.
func ErrCheckpointFailed(err error) error {
	return fmt.Errorf("ERR checkpoint failed: %s", strings.ReplaceAll(err.Error(), "\n", " "))
}
