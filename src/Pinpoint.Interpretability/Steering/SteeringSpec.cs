using System.Globalization;
using System.Text;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Steering;

/// <summary>
/// A steering spec as written on the command line (<c>--steer</c>, <c>--vector</c>): comma-separated fields
/// <c>key=value</c> (a value may be double-quoted to hold commas; <c>\"</c> and <c>\\</c> escape inside quotes) and flags:
/// <list type="bullet">
/// <item><c>hook=NAME</c>: where the vector is added (and read, for plus/minus and pairs);</item>
/// <item>the source, one of: <c>plus=TEXT,minus=TEXT</c> (ActAdd: last-token activation difference), <c>pairs=FILE.jsonl</c>
/// (mean difference over <c>{"positive","negative"}</c> lines), <c>file=F.safetensors,tensor=NAME[,row=I]</c> (a saved vector);</item>
/// <item><c>coef=C</c> (default 1), <c>pos=all|P|A:B|A:</c> (default all), <c>unit</c> (scale the vector to norm 1 first);</item>
/// <item><c>ablate</c>: instead of adding, project the (unit) direction out of every residual write; needs a d_model-wide
/// source, and takes no coef or pos.</item>
/// </list>
/// Example: <c>hook=blocks.2.hook_resid_pre,plus=" happy",minus=" sad",coef=4</c>.
/// </summary>
public sealed record SteeringSpec
{
    public required string Text { get; init; }
    public string? Hook { get; init; }
    public string? Plus { get; init; }
    public string? Minus { get; init; }
    public string? PairsFile { get; init; }
    public string? File { get; init; }
    public string? TensorName { get; init; }
    public int? Row { get; init; }
    public float Coefficient { get; init; } = 1f;
    public bool CoefficientGiven { get; init; }
    public TokenPositions Positions { get; init; } = TokenPositions.All;
    public bool Unit { get; init; }
    public bool Ablate { get; init; }

    public const string Grammar =
        "hook=NAME and one source: plus=TEXT,minus=TEXT | pairs=FILE.jsonl | file=F.safetensors,tensor=NAME[,row=I]; " +
        "then coef=C (default 1), pos=all|P|A:B|A: (default all), unit; or the flag ablate (project the direction out of every residual write); " +
        "quote values that hold commas: plus=\"a, b\"";

    /// <summary>Parses a spec; throws <see cref="ArgumentException"/> naming the spec and the problem.</summary>
    public static SteeringSpec Parse(string text)
    {
        var spec = new SteeringSpec { Text = text };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in Fields(text))
        {
            if (!seen.Add(key)) throw Bad(text, $"'{key}' is given twice");
            string Value() => value ?? throw Bad(text, $"'{key}' needs a value ({key}=...)");
            spec = key switch
            {
                "hook" => spec with { Hook = Value() },
                "plus" => spec with { Plus = Value() },
                "minus" => spec with { Minus = Value() },
                "pairs" => spec with { PairsFile = Value() },
                "file" => spec with { File = Value() },
                "tensor" => spec with { TensorName = Value() },
                "row" => spec with { Row = int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int r) && r >= 0 ? r : throw Bad(text, $"row '{value}' is not a non-negative integer") },
                "coef" => spec with
                {
                    Coefficient = float.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out float c) && float.IsFinite(c) ? c : throw Bad(text, $"coef '{value}' is not a number"),
                    CoefficientGiven = true,
                },
                "pos" => spec with { Positions = ParsePositions(text, Value()) },
                "unit" => value is null ? spec with { Unit = true } : throw Bad(text, "'unit' is a flag and takes no value"),
                "ablate" => value is null ? spec with { Ablate = true } : throw Bad(text, "'ablate' is a flag and takes no value"),
                _ => throw Bad(text, $"unknown field '{key}'"),
            };
        }
        return spec.Validated();
    }

    private SteeringSpec Validated()
    {
        int sources = (Plus is not null || Minus is not null ? 1 : 0) + (PairsFile is not null ? 1 : 0) + (File is not null || TensorName is not null ? 1 : 0);
        if (sources != 1) throw Bad(Text, "give exactly one source: plus= and minus=, pairs=, or file= and tensor=");
        if ((Plus is null) != (Minus is null)) throw Bad(Text, "ActAdd needs both plus= and minus=");
        if ((File is null) != (TensorName is null)) throw Bad(Text, "a saved vector needs both file= and tensor=");
        if (Row is not null && File is null) throw Bad(Text, "row= applies to file= vectors");
        if (Hook is null && (!Ablate || File is null)) throw Bad(Text, Ablate ? "ablate with plus/minus or pairs needs hook= (where the direction is read)" : "hook= is required");
        if (Ablate && (CoefficientGiven || Positions != TokenPositions.All)) throw Bad(Text, "ablate removes the whole direction everywhere; drop coef= and pos=");
        return this;
    }

    /// <summary>The direction this spec names, read or computed on <paramref name="model"/> (and scaled to norm 1 with unit).</summary>
    public float[] Direction(LoadedModel model)
    {
        var config = model.Model.Config;
        float[] vector;
        try
        {
            if (Hook is not null) SteeringVector.CheckFits(Hook, SteeringVector.HookWidth(Hook, config) ?? -1, config);
            vector = Plus is not null ? SteeringSources.ActAdd(model, Hook!, Plus, Minus!)
                : PairsFile is not null ? SteeringSources.MeanDifference(model, Hook!, EvalDataset.ReadContrastivePairs(PairsFile))
                : SteeringSources.FromFile(File!, TensorName!, Row);
            if (Hook is not null) SteeringVector.CheckFits(Hook, vector.Length, config);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or ModelFormatException)
        {
            throw Bad(Text, e.Message);
        }
        if (vector.Any(v => !float.IsFinite(v))) throw Bad(Text, "the vector holds NaN or infinite values");
        if (!Unit) return vector;
        double norm = Math.Sqrt(vector.Sum(v => (double)v * v));
        return norm > 0 ? vector.Select(v => (float)(v / norm)).ToArray() : throw Bad(Text, "the vector is zero and cannot be scaled to norm 1");
    }

    /// <summary>What the spec does to <paramref name="model"/>: a <see cref="SteeringVector"/>, or a <see cref="DirectionalAblation"/> with ablate.</summary>
    public IHookIntervention Build(LoadedModel model)
    {
        var vector = Direction(model);
        if (!Ablate) return new SteeringVector(Hook!, vector, Coefficient, Positions);
        if (vector.Length != model.Model.Config.DModel)
            throw Bad(Text, $"ablate needs a residual-stream direction of {model.Model.Config.DModel} values, not {vector.Length}");
        try
        {
            return new DirectionalAblation(vector);
        }
        catch (ArgumentException e)
        {
            throw Bad(Text, e.Message);
        }
    }

    private static TokenPositions ParsePositions(string text, string value)
    {
        try
        {
            return TokenPositions.Parse(value);
        }
        catch (FormatException e)
        {
            throw Bad(text, e.Message);
        }
    }

    private static ArgumentException Bad(string text, string problem) => new($"steering spec '{text}': {problem}");

    /// <summary>Splits on commas outside double quotes; yields (key, value or null for a flag).</summary>
    private static IEnumerable<(string Key, string? Value)> Fields(string text)
    {
        var fields = new List<(string, string?)>();
        var current = new StringBuilder();
        string? key = null;
        bool quoted = false, wasQuoted = false;
        for (int i = 0; i <= text.Length; i++)
        {
            char ch = i < text.Length ? text[i] : ',';
            if (quoted)
            {
                if (ch == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\') current.Append(text[++i]);
                else if (ch == '"') quoted = false;
                else if (i == text.Length) throw Bad(text, "a quoted value is not closed");
                else current.Append(ch);
                continue;
            }
            if (ch == '"' && key is not null && current.Length == 0 && !wasQuoted)
                quoted = wasQuoted = true;
            else if (ch == '=' && key is null)
            {
                key = current.ToString().Trim();
                current.Clear();
            }
            else if (ch == ',')
            {
                if (key is null)
                {
                    var flag = current.ToString().Trim();
                    if (flag.Length == 0) throw Bad(text, "an empty field");
                    fields.Add((flag, null));
                }
                else
                {
                    if (key.Length == 0) throw Bad(text, "a field has no name before '='");
                    fields.Add((key, wasQuoted ? current.ToString() : current.ToString().Trim()));
                }
                current.Clear();
                key = null;
                wasQuoted = false;
            }
            else if (wasQuoted && !char.IsWhiteSpace(ch)) throw Bad(text, $"text after the quoted value of '{key}'");
            else current.Append(ch);
        }
        return fields;
    }
}
