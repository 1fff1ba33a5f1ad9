using System.Runtime.InteropServices;
using System.Text;

namespace PgPoolConsole.Tests.Sql;

/// <summary>
/// PostgreSQL 15's own scanner and parser, through libpg_query (Debian/Ubuntu: libpg-query-dev), used as
/// the oracle for the SQL module. Positions from the library are UTF-8 byte offsets; this wrapper turns
/// them into string indexes. A missing library is an error with instructions, never a skip: CI installs it.
/// </summary>
internal static class PgQuery
{
    private const string LibraryName = "libpg_query.so";

    private static readonly Lazy<NativeApi> Api = new(LoadApi);

    /// <summary>A statement range from pg_query_split_with_parser (leading whitespace and comments included).</summary>
    public readonly record struct Range(int Start, int Length);

    /// <summary>A token from pg_query_scan: string indexes, PostgreSQL token number and keyword kind (0 = none).</summary>
    public readonly record struct ScanToken(int Start, int End, int Token, int KeywordKind);

    /// <summary>Token numbers of pg_query.proto used by the tests.</summary>
    public static class Tokens
    {
        public const int Ident = 258;
        public const int UnicodeIdent = 259;
        public const int FloatConst = 260;
        public const int StringConst = 261;
        public const int UnicodeStringConst = 262;
        public const int BitConst = 263;
        public const int HexConst = 264;
        public const int Op = 265;
        public const int IntConst = 266;
        public const int Param = 267;
        public const int Typecast = 268;
        public const int DotDot = 269;
        public const int NotEquals = 274;
        public const int SqlComment = 275;
        public const int CComment = 276;
        public const int FirstKeyword = 277;
    }

    /// <summary>Statement ranges as the grammar splits <paramref name="sql"/>; throws on a syntax error.</summary>
    public static IReadOnlyList<Range> SplitWithParser(string sql)
    {
        var (bytes, charAt) = Encode(sql);
        var result = Api.Value.SplitWithParser(bytes);
        try
        {
            ThrowOnError(result.Error, sql);
            var ranges = new List<Range>(result.StatementCount);
            for (var s = 0; s < result.StatementCount; s++)
            {
                var statement = Marshal.PtrToStructure<NativeSplitStatement>(Marshal.ReadIntPtr(result.Statements, s * IntPtr.Size));
                var start = charAt[statement.Location];
                ranges.Add(new Range(start, charAt[statement.Location + statement.Length] - start));
            }

            return ranges;
        }
        finally
        {
            Api.Value.FreeSplitResult(result);
        }
    }

    /// <summary>The parse tree of <paramref name="sql"/> as libpg_query's JSON; throws on a syntax error.</summary>
    public static string ParseToJson(string sql)
    {
        var (bytes, _) = Encode(sql);
        var result = Api.Value.Parse(bytes);
        try
        {
            ThrowOnError(result.Error, sql);
            return Marshal.PtrToStringUTF8(result.ParseTree) ?? throw new InvalidOperationException("libpg_query returned no parse tree.");
        }
        finally
        {
            Api.Value.FreeParseResult(result);
        }
    }

    /// <summary>PostgreSQL's scanner tokens for <paramref name="sql"/> (comments included).</summary>
    public static IReadOnlyList<ScanToken> Scan(string sql)
    {
        var (bytes, charAt) = Encode(sql);
        var result = Api.Value.Scan(bytes);
        try
        {
            ThrowOnError(result.Error, sql);
            var buffer = new byte[(int)result.Protobuf.Length];
            Marshal.Copy(result.Protobuf.Data, buffer, 0, buffer.Length);
            return DecodeScanResult(buffer, charAt);
        }
        finally
        {
            Api.Value.FreeScanResult(result);
        }
    }

    /// <summary>For every UTF-8 byte offset of <paramref name="sql"/> (and its end), the string index it falls in.</summary>
    public static int[] ByteToCharIndex(string sql) => Encode(sql).CharAt;

    /// <summary>Decodes pg_query.proto ScanResult { repeated ScanToken tokens = 2; } with ScanToken { start = 1; end = 2; token = 4; keyword_kind = 5; }.</summary>
    private static List<ScanToken> DecodeScanResult(byte[] buffer, int[] charAt)
    {
        var tokens = new List<ScanToken>();
        var i = 0;
        while (i < buffer.Length)
        {
            var key = ReadVarint(buffer, ref i);
            if ((key & 7) == 0)
            {
                ReadVarint(buffer, ref i);
                continue;
            }

            var length = (int)ReadVarint(buffer, ref i);
            if (key >> 3 == 2)
            {
                var fields = new long[6];
                var j = i;
                while (j < i + length)
                {
                    var fieldKey = ReadVarint(buffer, ref j);
                    var value = ReadVarint(buffer, ref j);
                    if (fieldKey >> 3 < fields.Length)
                    {
                        fields[fieldKey >> 3] = value;
                    }
                }

                tokens.Add(new ScanToken(charAt[fields[1]], charAt[fields[2]], (int)fields[4], (int)fields[5]));
            }

            i += length;
        }

        return tokens;
    }

    private static long ReadVarint(byte[] buffer, ref int i)
    {
        long value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = buffer[i++];
            value |= (long)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }

    /// <summary>NUL-terminated UTF-8 plus, for every byte offset, the string index it falls in.</summary>
    private static (byte[] Bytes, int[] CharAt) Encode(string sql)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(sql) + 1];
        Encoding.UTF8.GetBytes(sql, bytes);
        var charAt = new int[bytes.Length];
        var offset = 0;
        for (var c = 0; c < sql.Length; c++)
        {
            var width = char.IsHighSurrogate(sql[c]) && c + 1 < sql.Length ? 2 : 1;
            var size = Encoding.UTF8.GetByteCount(sql.AsSpan(c, width));
            for (var b = 0; b < size; b++)
            {
                charAt[offset + b] = c;
            }

            offset += size;
            c += width - 1;
        }

        charAt[offset] = sql.Length;
        return (bytes, charAt);
    }

    private static void ThrowOnError(IntPtr error, string sql)
    {
        if (error == IntPtr.Zero)
        {
            return;
        }

        var native = Marshal.PtrToStructure<NativeError>(error);
        throw new InvalidOperationException(
            $"PostgreSQL rejects the statement ({Marshal.PtrToStringUTF8(native.Message)} at byte {native.CursorPosition}): {sql}");
    }

    private static NativeApi LoadApi()
    {
        if (!NativeLibrary.TryLoad(LibraryName, typeof(PgQuery).Assembly, DllImportSearchPath.SafeDirectories, out var handle)
            && !NativeLibrary.TryLoad(LibraryName, out handle))
        {
            throw new InvalidOperationException(
                $"{LibraryName} could not be loaded. The SQL oracle tests compare against PostgreSQL's own parser: "
                + "install it with `apt-get install libpg-query-dev` (Debian/Ubuntu) or put libpg_query.so on the loader path.");
        }

        return new NativeApi(handle);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NativeError
    {
        public IntPtr Message;
        public IntPtr FunctionName;
        public IntPtr FileName;
        public int LineNumber;
        public int CursorPosition;
        public IntPtr Context;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NativeSplitStatement
    {
        public int Location;
        public int Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NativeSplitResult
    {
        public IntPtr Statements;
        public int StatementCount;
        public IntPtr StderrBuffer;
        public IntPtr Error;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NativeParseResult
    {
        public IntPtr ParseTree;
        public IntPtr StderrBuffer;
        public IntPtr Error;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NativeProtobuf
    {
        public UIntPtr Length;
        public IntPtr Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NativeScanResult
    {
        public NativeProtobuf Protobuf;
        public IntPtr StderrBuffer;
        public IntPtr Error;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate NativeSplitResult SplitFunction(byte[] input);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void FreeSplitFunction(NativeSplitResult result);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate NativeParseResult ParseFunction(byte[] input);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void FreeParseFunction(NativeParseResult result);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate NativeScanResult ScanFunction(byte[] input);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void FreeScanFunction(NativeScanResult result);

    /// <summary>The entry points of pg_query.h, bound once.</summary>
    private sealed class NativeApi(IntPtr handle)
    {
        public SplitFunction SplitWithParser { get; } = Bind<SplitFunction>(handle, "pg_query_split_with_parser");

        public FreeSplitFunction FreeSplitResult { get; } = Bind<FreeSplitFunction>(handle, "pg_query_free_split_result");

        public ParseFunction Parse { get; } = Bind<ParseFunction>(handle, "pg_query_parse");

        public FreeParseFunction FreeParseResult { get; } = Bind<FreeParseFunction>(handle, "pg_query_free_parse_result");

        public ScanFunction Scan { get; } = Bind<ScanFunction>(handle, "pg_query_scan");

        public FreeScanFunction FreeScanResult { get; } = Bind<FreeScanFunction>(handle, "pg_query_free_scan_result");

        private static T Bind<T>(IntPtr library, string name)
            where T : Delegate =>
            Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(library, name));
    }
}
