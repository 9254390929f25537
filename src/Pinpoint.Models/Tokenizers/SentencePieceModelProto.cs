using System.Text;

namespace Pinpoint.Models.Tokenizers;

/// <summary>
/// The parts of a SentencePiece <c>.model</c> (a ModelProto protobuf) that encoding needs: pieces with
/// scores and types, the model type, special ids and the dummy-prefix flag.
/// </summary>
internal sealed class SentencePieceModelProto
{
    public List<string> Pieces { get; } = [];
    public List<float> Scores { get; } = [];
    public List<PieceKind> Kinds { get; } = [];
    public int ModelType { get; private set; } = 1; // TrainerSpec.ModelType: 1 unigram, 2 BPE, 3 word, 4 char
    public int BosId { get; private set; } = 1;
    public int EosId { get; private set; } = 2;
    public bool AddDummyPrefix { get; private set; } = true;
    public string NormalizerName { get; private set; } = "";
    public int CharsMapLength { get; private set; }

    public const int Bpe = 2;

    public static SentencePieceModelProto Parse(ReadOnlySpan<byte> data)
    {
        var model = new SentencePieceModelProto();
        var r = new Reader(data);
        while (r.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, 2): model.ReadPiece(r.Bytes()); break;
                case (2, 2): model.ReadTrainerSpec(r.Bytes()); break;
                case (3, 2): model.ReadNormalizerSpec(r.Bytes()); break;
                default: r.Skip(wire); break;
            }
        }
        return model;
    }

    private void ReadPiece(ReadOnlySpan<byte> data)
    {
        var (piece, score, kind) = ("", 0f, PieceKind.Normal);
        var r = new Reader(data);
        while (r.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, 2): piece = Encoding.UTF8.GetString(r.Bytes()); break;
                case (2, 5): score = r.Float(); break;
                case (3, 0): kind = (PieceKind)r.Varint(); break;
                default: r.Skip(wire); break;
            }
        }
        Pieces.Add(piece);
        Scores.Add(score);
        Kinds.Add(kind);
    }

    private void ReadTrainerSpec(ReadOnlySpan<byte> data)
    {
        var r = new Reader(data);
        while (r.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (3, 0): ModelType = (int)r.Varint(); break;
                case (41, 0): BosId = (int)r.Varint(); break; // int32 -1 arrives as a 10-byte varint; the cast restores it
                case (42, 0): EosId = (int)r.Varint(); break;
                default: r.Skip(wire); break;
            }
        }
    }

    private void ReadNormalizerSpec(ReadOnlySpan<byte> data)
    {
        var r = new Reader(data);
        while (r.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, 2): NormalizerName = Encoding.UTF8.GetString(r.Bytes()); break;
                case (2, 2): CharsMapLength = r.Bytes().Length; break;
                case (3, 0): AddDummyPrefix = r.Varint() != 0; break;
                default: r.Skip(wire); break;
            }
        }
    }

    /// <summary>Protobuf wire-format reader; throws <see cref="FormatException"/> on truncation.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> rest = data;

        public bool Next(out int field, out int wire)
        {
            if (rest.IsEmpty)
            {
                (field, wire) = (0, 0);
                return false;
            }
            var key = Varint();
            (field, wire) = ((int)(key >> 3), (int)(key & 7));
            return true;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = Take(1)[0];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
            throw new FormatException("varint longer than 10 bytes");
        }

        public float Float() => BitConverter.ToSingle(Take(4));

        public ReadOnlySpan<byte> Bytes() => Take(checked((int)Varint()));

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Take(8); break;
                case 2: Bytes(); break;
                case 5: Take(4); break;
                default: throw new FormatException($"unsupported protobuf wire type {wire}");
            }
        }

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > rest.Length) throw new FormatException("truncated protobuf");
            var taken = rest[..n];
            rest = rest[n..];
            return taken;
        }
    }
}
