using System.Text;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Tests.Tokenizers;

/// <summary>
/// Minimal GGUF key/value reader for the tokenizer tests (the model-format code owns real GGUF parsing):
/// header, then typed key/value pairs; tensors are not read.
/// </summary>
internal static class GgufTokenizerMetadataReader
{
    public static GgufTokenizerMetadata Read(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        Assert.Equal("GGUF"u8.ToArray(), r.ReadBytes(4));
        r.ReadUInt32(); // version
        r.ReadUInt64(); // tensor count
        var count = r.ReadUInt64();
        var kv = new Dictionary<string, object>();
        for (ulong i = 0; i < count; i++)
        {
            var key = ReadString(r);
            kv[key] = ReadValue(r, r.ReadUInt32());
        }
        T? Get<T>(string key) => kv.TryGetValue("tokenizer.ggml." + key, out var v) ? (T)v : default;
        int? Id(string key) => kv.TryGetValue("tokenizer.ggml." + key, out var v) ? unchecked((int)Convert.ToUInt32(v)) : null;
        return new GgufTokenizerMetadata(
            Get<string>("model")!,
            [.. Get<object[]>("tokens")!.Cast<string>()],
            Get<object[]>("scores")?.Cast<float>().ToArray(),
            Get<object[]>("token_type")?.Select(Convert.ToInt32).ToArray(),
            Get<object[]>("merges")?.Cast<string>().ToArray(),
            Id("bos_token_id"),
            Id("eos_token_id"),
            kv.TryGetValue("tokenizer.ggml.add_bos_token", out var addBos) ? (bool)addBos : null,
            Pre: Get<string>("pre"));
    }

    private static string ReadString(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes(checked((int)r.ReadUInt64())));

    private static object ReadValue(BinaryReader r, uint type) => type switch
    {
        0 => r.ReadByte(),
        1 => r.ReadSByte(),
        2 => r.ReadUInt16(),
        3 => r.ReadInt16(),
        4 => r.ReadUInt32(),
        5 => r.ReadInt32(),
        6 => r.ReadSingle(),
        7 => r.ReadBoolean(),
        8 => ReadString(r),
        9 => ReadArray(r),
        10 => r.ReadUInt64(),
        11 => r.ReadInt64(),
        12 => r.ReadDouble(),
        _ => throw new InvalidDataException($"GGUF value type {type}"),
    };

    private static object[] ReadArray(BinaryReader r)
    {
        var type = r.ReadUInt32();
        var n = checked((int)r.ReadUInt64());
        var items = new object[n];
        for (var i = 0; i < n; i++) items[i] = ReadValue(r, type);
        return items;
    }
}
