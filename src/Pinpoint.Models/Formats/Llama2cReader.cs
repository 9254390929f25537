using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

/// <summary>
/// Reads Karpathy's llama2.c checkpoints: legacy v0 (7-int header, run.c weight order, trailing freq_cis tables),
/// v1 ("ak42" magic, 256-byte header, fp32) and v2 (Q8_0: int8 groups with one fp32 scale per group, dequantized
/// here). v0/v1 weights are mapped without copying.
/// </summary>
/// <remarks>
/// Tensors use the names of llama2.c's PyTorch model (Meta's Llama naming), shapes as nn.Linear weights [out, in]:
/// <c>tok_embeddings.weight</c> [vocab, dim];
/// <c>layers.{l}.attention_norm.weight</c> [dim];
/// <c>layers.{l}.attention.wq.weight</c> [n_heads·head_size, dim];
/// <c>layers.{l}.attention.wk.weight</c>, <c>.wv.weight</c> [n_kv_heads·head_size, dim];
/// <c>layers.{l}.attention.wo.weight</c> [dim, n_heads·head_size];
/// <c>layers.{l}.ffn_norm.weight</c> [dim];
/// <c>layers.{l}.feed_forward.w1.weight</c>, <c>.w3.weight</c> [hidden_dim, dim] (gate, up);
/// <c>layers.{l}.feed_forward.w2.weight</c> [dim, hidden_dim] (down);
/// <c>norm.weight</c> [dim]; <c>output.weight</c> [vocab, dim] only when the classifier is not shared.
/// q/k rows are in llama2.c's (Meta's) interleaved-pair RoPE layout, not Hugging Face's rotate-half layout.
/// The header is exposed as metadata <c>llama2c.version</c>, <c>.dim</c>, <c>.hidden_dim</c>, <c>.n_layers</c>,
/// <c>.n_heads</c>, <c>.n_kv_heads</c>, <c>.vocab_size</c>, <c>.max_seq_len</c> (Int32),
/// <c>.shared_classifier</c> (Bool) and, for v2, <c>.group_size</c>.
/// </remarks>
public static class Llama2cReader
{
    public const uint Magic = 0x616b3432; // "ak42"
    public const int VersionedHeaderBytes = 256;

    public static TensorFile Open(string path) => MappedFile.Parse(path, Read);

    /// <summary>One run of same-shaped tensors (one per layer, or a single global one) in file order.</summary>
    private sealed record Run(string Name, int[] Shape, int Count, bool Quantized, bool Skipped = false)
    {
        public string TensorName(int i) => string.Format(System.Globalization.CultureInfo.InvariantCulture, Name, i);
    }

    private static TensorFile Read(MappedFile file)
    {
        var c = file.Cursor();
        bool versioned = c.ReadU32("magic") == Magic;
        int version = 0, groupSize = 0;
        bool shared;
        int[] p;
        if (versioned)
        {
            version = c.ReadI32("version");
            if (version is not (1 or 2)) throw c.Error($"llama2.c checkpoint version {version} is not supported (expected 1 or 2)");
            p = ReadParams(c);
            byte flag = c.ReadU8("shared_classifier flag");
            if (flag > 1) throw c.Error($"shared_classifier flag is {flag}, expected 0 or 1");
            shared = flag == 1;
            if (version == 2)
            {
                groupSize = c.ReadI32("group size");
                if (groupSize <= 0) throw c.Error($"group size {groupSize} is not positive");
            }
            if (file.Length < VersionedHeaderBytes) throw c.Error($"file of {file.Length} bytes is shorter than the {VersionedHeaderBytes}-byte header");
            c.Seek(VersionedHeaderBytes);
        }
        else
        {
            c.Seek(0);
            p = ReadParams(c);
            // v0 marks an unshared classifier with a negative vocab size.
            shared = p[5] > 0;
            if (p[5] == int.MinValue) throw c.Error("vocab_size is int.MinValue");
            p[5] = Math.Abs(p[5]);
        }

        int dim = p[0], hidden = p[1], layers = p[2], heads = p[3], kvHeads = p[4], vocab = p[5], seqLen = p[6];
        string config = $"dim={dim}, hidden_dim={hidden}, n_layers={layers}, n_heads={heads}, n_kv_heads={kvHeads}, vocab_size={vocab}, seq_len={seqLen}";
        if (p.Any(v => v <= 0)) throw c.Error($"header has non-positive sizes ({config}); not a llama2.c checkpoint?");
        if (dim % heads != 0) throw c.Error($"dim {dim} is not a multiple of n_heads {heads} ({config})");
        if (kvHeads > heads || heads % kvHeads != 0) throw c.Error($"n_heads {heads} is not a multiple of n_kv_heads {kvHeads} ({config})");
        int headSize = dim / heads;
        int kvDim = kvHeads * headSize;
        if (version == 0 && headSize % 2 != 0) throw c.Error($"head size {headSize} is odd ({config})");

        var runs = Layout(version, dim, hidden, layers, kvDim, vocab, seqLen, headSize, shared);
        long expected = c.Position;
        foreach (var r in runs)
        {
            Shapes.Validate(Array.ConvertAll(r.Shape, d => (long)d), r.TensorName(0), c.Error);
            // A validated run has under 2^62 values; keeping totals below 2^59 makes the byte sums below overflow-free.
            long n = Shapes.Multiply(Shapes.ElementCount(r.Shape), r.Count, $"size of {r.TensorName(0)}", c.Error);
            if (n > long.MaxValue / 16 || expected > long.MaxValue / 16)
                throw c.Error($"header describes an impossibly large model ({config})");
            if (r.Quantized && Shapes.ElementCount(r.Shape) % groupSize != 0)
                throw c.Error($"{r.TensorName(0)} has {Shapes.ElementCount(r.Shape)} values, not a multiple of the group size {groupSize}");
            expected += r.Quantized ? n + n / groupSize * 4 : 4 * n;
        }
        if (expected != file.Length)
        {
            throw c.Error($"llama2.c v{version} checkpoint with {config}{(version == 2 ? $", group_size={groupSize}" : "")}, " +
                $"{(shared ? "shared" : "separate")} classifier needs exactly {expected} bytes, but the file has {file.Length}" +
                (file.Length < expected ? " (truncated?)" : ""));
        }

        var tensors = new List<Tensor>();
        foreach (var r in runs)
        {
            int n = Shapes.ElementCount(r.Shape);
            for (int i = 0; i < r.Count; i++)
            {
                if (r.Skipped) { c.Skip(4L * n, r.Name); continue; }
                var name = r.TensorName(i);
                if (!r.Quantized)
                {
                    tensors.Add(file.Tensor(name, c.Position, r.Shape, DType.F32));
                    c.Skip(4L * n, name);
                    continue;
                }
                tensors.Add(Shapes.Create(new Storage(DequantizeGroups(c, n, groupSize, name)), r.Shape, name));
            }
        }

        var metadata = new Dictionary<string, MetadataValue>(StringComparer.Ordinal)
        {
            ["llama2c.version"] = version,
            ["llama2c.dim"] = dim,
            ["llama2c.hidden_dim"] = hidden,
            ["llama2c.n_layers"] = layers,
            ["llama2c.n_heads"] = heads,
            ["llama2c.n_kv_heads"] = kvHeads,
            ["llama2c.vocab_size"] = vocab,
            ["llama2c.max_seq_len"] = seqLen,
            ["llama2c.shared_classifier"] = shared,
        };
        if (version == 2) metadata["llama2c.group_size"] = groupSize;
        return new TensorFile(file.Path, TensorFileFormat.Llama2c, tensors, metadata, [file]);
    }

    private static int[] ReadParams(BinaryCursor c)
    {
        string[] names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
        return names.Select(n => c.ReadI32(n)).ToArray();
    }

    /// <summary>Tensor runs in file order for each version (see run.c / runq.c and export.py).</summary>
    private static List<Run> Layout(int version, int dim, int hidden, int layers, int kvDim, int vocab, int seqLen, int headSize, bool shared)
    {
        bool q = version == 2;
        var embedding = new Run("tok_embeddings.weight", [vocab, dim], 1, q);
        var attentionNorm = new Run("layers.{0}.attention_norm.weight", [dim], layers, false);
        var ffnNorm = new Run("layers.{0}.ffn_norm.weight", [dim], layers, false);
        var norm = new Run("norm.weight", [dim], 1, false);
        Run[] attention =
        [
            new("layers.{0}.attention.wq.weight", [dim, dim], layers, q),
            new("layers.{0}.attention.wk.weight", [kvDim, dim], layers, q),
            new("layers.{0}.attention.wv.weight", [kvDim, dim], layers, q),
            new("layers.{0}.attention.wo.weight", [dim, dim], layers, q),
        ];
        Run[] ffn =
        [
            new("layers.{0}.feed_forward.w1.weight", [hidden, dim], layers, q),
            new("layers.{0}.feed_forward.w2.weight", [dim, hidden], layers, q),
            new("layers.{0}.feed_forward.w3.weight", [hidden, dim], layers, q),
        ];
        var runs = version == 0
            ? new List<Run> { embedding, attentionNorm }
                .Concat(attention).Append(ffnNorm).Concat(ffn).Append(norm)
                // The old RoPE tables: present in the file, recomputed by every runtime, so not exposed.
                .Append(new Run("freq_cis_real", [seqLen, headSize / 2], 1, false, Skipped: true))
                .Append(new Run("freq_cis_imag", [seqLen, headSize / 2], 1, false, Skipped: true)).ToList()
            : new List<Run> { attentionNorm, ffnNorm, norm, embedding }.Concat(attention).Concat(ffn).ToList();
        if (!shared) runs.Add(new Run("output.weight", [vocab, dim], 1, q));
        return runs;
    }

    /// <summary>Reads one Q8_0 tensor (n int8 values, then n/groupSize fp32 scales) and dequantizes it.</summary>
    private static float[] DequantizeGroups(BinaryCursor c, int n, int groupSize, string name)
    {
        var quants = c.ReadBytes(n, $"int8 values of {name}");
        var scales = c.ReadBytes(4L * (n / groupSize), $"scales of {name}");
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            float scale = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(scales.Slice(4 * (i / groupSize), 4));
            values[i] = (sbyte)quants[i] * scale;
        }
        return values;
    }
}
