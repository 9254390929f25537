using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Circuits;

/// <summary>
/// Attention-only models whose circuit is written into the weights, with the edges the planted contrast runs
/// through. The residual stream is split into subspaces — token, position, previous token (written by a
/// previous-token head), a middle stage, the output (the only one the unembedding reads) and junk (written by
/// distractor heads with random weights) — so every planted head reads and writes known directions.
/// Prompts are five distinct tokens followed by the first three again; the answer is the fourth (induction).
/// Counterfactuals have the same structure with other tokens, so every token-carrying edge changes.
/// </summary>
public sealed record PlantedCircuit(string Name, HookedTransformer Model, IReadOnlyList<string> Edges, IReadOnlyList<CircuitItem> Items)
{
    private const int Vocab = 10, Context = 12, DHead = 12, Heads = 3;
    private const int Tok = 0, Pos = Tok + Vocab, Prev = Pos + Context, Mid = Prev + Vocab, Out = Mid + Vocab, Junk = Out + Vocab, Bias = Junk + 12, DModel = Bias + 1;
    // Query·key of a planted match, in logits before the softmax (a softer induction head keeps gradients through its keys alive).
    private const float PrevTokenSharpness = 4.5f, InductionSharpness = 2.75f, SelfSharpness = 4.5f, Unembed = 6f;
    // A constant component larger than the rest keeps the RMS norm's scale nearly fixed when tokens change (as in
    // trained models, where no single token direction dominates the norm), so first-order estimates stay meaningful.
    private const float BiasValue = 4f;

    /// <summary>Previous-token head L0H0 → induction head L1H0 → logits.</summary>
    public static PlantedCircuit Induction() => Build("induction", layers: 2, suppression: false, twoHop: false,
        ["embed->L0H0.v", "L0H0->L1H0.k", "embed->L1H0.q", "embed->L1H0.v", "L1H0->logits"]);

    /// <summary>The induction circuit plus L1H2, which attends like the induction head but writes the answer negatively.</summary>
    public static PlantedCircuit Suppression() => Build("suppression", layers: 2, suppression: true, twoHop: false,
        ["embed->L0H0.v", "L0H0->L1H0.k", "embed->L1H0.q", "embed->L1H0.v", "L1H0->logits",
         "L0H0->L1H2.k", "embed->L1H2.q", "embed->L1H2.v", "L1H2->logits"]);

    /// <summary>The induction head writes the answer to a middle subspace; L2H0 attends to its own position and moves it to the output.</summary>
    public static PlantedCircuit TwoHop() => Build("two-hop copy", layers: 3, suppression: false, twoHop: true,
        ["embed->L0H0.v", "L0H0->L1H0.k", "embed->L1H0.q", "embed->L1H0.v", "L1H0->L2H0.v", "L2H0->logits"]);

    public static IEnumerable<PlantedCircuit> All() => [Induction(), Suppression(), TwoHop()];

    private static PlantedCircuit Build(string name, int layers, bool suppression, bool twoHop, string[] edges)
    {
        var config = new TransformerConfig
        {
            Architecture = "planted", DModel = DModel, NLayers = layers, NHeads = Heads, NKvHeads = Heads, DHead = DHead, DMlp = 0,
            VocabSize = Vocab, ContextLength = Context, Norm = NormKind.RmsNorm, AttentionOnly = true,
        };
        var rng = new Random(5);
        float Noise(double scale) => (float)((rng.NextDouble() * 2 - 1) * scale);
        var embedding = new float[Vocab * DModel];
        for (int t = 0; t < Vocab; t++) embedding[t * DModel + Tok + t] = 1;
        var positions = new float[Context * DModel];
        for (int p = 0; p < Context; p++)
        {
            positions[p * DModel + Pos + p] = 1;
            positions[p * DModel + Bias] = BiasValue;
        }
        var unembed = new float[DModel * Vocab];
        for (int t = 0; t < Vocab; t++) unembed[(Out + t) * Vocab + t] = Unembed;

        var blocks = new List<BlockWeights>();
        for (int l = 0; l < layers; l++)
        {
            int width = Heads * DHead;
            float[] q = new float[DModel * width], k = new float[DModel * width], v = new float[DModel * width], o = new float[width * DModel];
            void Read(float[] w, int head, int from, int count, float scale, int shift = 0)
            {
                for (int i = 0; i < count && i + shift < DHead; i++) w[(from + i) * width + head * DHead + i + shift] = scale;
            }
            void Write(int head, int to, int count, float scale)
            {
                for (int i = 0; i < count; i++) o[(head * DHead + i) * DModel + to + i] = scale;
            }
            void Distractor(int head)
            {
                for (int r = 0; r < DModel; r++)
                    for (int i = 0; i < DHead; i++)
                    {
                        q[r * width + head * DHead + i] = Noise(0.15);
                        k[r * width + head * DHead + i] = Noise(0.15);
                        v[r * width + head * DHead + i] = Noise(0.15);
                    }
                for (int i = 0; i < DHead; i++)
                    for (int j = 0; j < DModel - Junk; j++) o[(head * DHead + i) * DModel + Junk + j] = Noise(0.15);
            }
            // A unit component of the residual stream reads √(d_model / Σx²) after the RMS norm; reads undo that factor.
            float unit = 1f / MathF.Sqrt(DModel / (2f + l + BiasValue * BiasValue));
            float sharpPrev = PrevTokenSharpness * unit, sharpInduction = InductionSharpness * unit, sharpSelf = SelfSharpness * unit;
            if (l == 0)
            {
                // Previous-token head: the query at position p matches the key at p − 1; it copies that token to Prev.
                Read(q, 0, Pos, Context, sharpPrev);
                Read(k, 0, Pos, Context, sharpPrev, shift: 1);
                Read(v, 0, Tok, Vocab, unit);
                Write(0, Prev, Vocab, 1);
                Distractor(1);
                Distractor(2);
            }
            else if (l == 1)
            {
                // Induction head: the current token's query matches the key whose previous token is the same; copies its token.
                foreach (int head in suppression ? new[] { 0, 2 } : [0])
                {
                    Read(q, head, Tok, Vocab, sharpInduction);
                    Read(k, head, Prev, Vocab, sharpInduction);
                    Read(v, head, Tok, Vocab, unit);
                }
                Write(0, twoHop ? Mid : Out, Vocab, 1);
                if (suppression) Write(2, Out, Vocab, -0.4f);
                else Distractor(2);
                Distractor(1);
            }
            else
            {
                // Second hop: attends to its own position and moves the middle subspace to the output.
                Read(q, 0, Pos, Context, sharpSelf);
                Read(k, 0, Pos, Context, sharpSelf);
                Read(v, 0, Mid, Vocab, unit);
                Write(0, Out, Vocab, 1);
                Distractor(1);
                Distractor(2);
            }
            Linear Lin(float[] w, int rows, int cols) => new(Tensor.FromArray(w, rows, cols), OutIn: false);
            blocks.Add(new BlockWeights(new NormWeights(Ones(DModel), null),
                new AttentionWeights { Q = Lin(q, DModel, width), K = Lin(k, DModel, width), V = Lin(v, DModel, width), O = Lin(o, width, DModel) },
                null, null));
        }
        var weights = new TransformerWeights
        {
            Embedding = Tensor.FromArray(embedding, Vocab, DModel),
            PositionEmbedding = Tensor.FromArray(positions, Context, DModel),
            Blocks = blocks,
            FinalNorm = new NormWeights(Ones(DModel), null),
            Unembed = new Linear(Tensor.FromArray(unembed, DModel, Vocab), OutIn: false),
        };
        var model = new HookedTransformer(config, weights);
        return new PlantedCircuit(name, model, edges, Prompts(model));
    }

    private static Tensor Ones(int n) => Tensor.FromArray(Enumerable.Repeat(1f, n).ToArray(), n);

    /// <summary>Eight prompts "a b c d e a b c" (answer d) with counterfactuals of the same shape whose answer is the foil.</summary>
    private static List<CircuitItem> Prompts(HookedTransformer model)
    {
        var rng = new Random(17);
        int[] Sequence()
        {
            var tokens = Enumerable.Range(0, Vocab).OrderBy(_ => rng.Next()).Take(5).ToArray();
            return [.. tokens, tokens[0], tokens[1], tokens[2]];
        }
        var items = new List<CircuitItem>();
        while (items.Count < 8)
        {
            var (clean, counterfactual) = (Sequence(), Sequence());
            if (clean[3] == counterfactual[3]) continue;
            items.Add(new CircuitItem(clean, counterfactual, new LogitDiffReadout(model, clean[3], counterfactual[3])));
        }
        return items;
    }

    public override string ToString() => Name;
}
