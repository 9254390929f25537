using System.Text.Json;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;

namespace Pinpoint.Interpretability.Concepts;

/// <summary>
/// A fitted probe with its concept directions, as saved to safetensors: <c>probe.weight</c> [outputs, width] and
/// <c>probe.bias</c> [outputs] (scores = weight·x + bias on raw activations at <see cref="Hook"/>), and
/// <c>directions</c> [classes, width] (each class's mean minus the mean of the other classes' means; for values,
/// the ridge weight), float32. Metadata: <c>format</c> = <c>pinpoint-probe/1</c>, <c>hook</c>, <c>method</c>,
/// <c>classes</c> (a JSON array), <c>model</c>.
/// </summary>
public sealed record SavedProbe(string Hook, string Method, string[] Classes, LinearProbe Probe, double[] Directions, string Model)
{
    public const string Format = "pinpoint-probe/1";

    public int Width => Probe.Inputs;

    /// <summary>Direction of class <paramref name="c"/> (row c of <c>directions</c>).</summary>
    public ReadOnlySpan<double> Direction(int c) => Directions.AsSpan(c * Width, Width);

    public void Save(string path)
    {
        static Tensor T(double[] v, params int[] shape) => Tensor.FromArray(v.Select(x => (float)x).ToArray(), shape);
        int rows = Directions.Length / Width;
        SafetensorsWriter.Write(path,
            [
                new("probe.weight", T(Probe.Weights, Probe.Outputs, Width)),
                new("probe.bias", T(Probe.Bias, Probe.Outputs)),
                new("directions", T(Directions, rows, Width)),
            ],
            new Dictionary<string, string>
            {
                ["format"] = Format, ["hook"] = Hook, ["method"] = Method, ["classes"] = JsonSerializer.Serialize(Classes), ["model"] = Model,
            });
    }

    public static SavedProbe Load(string path)
    {
        using var file = SafetensorsReader.Open(path);
        string Meta(string key) => file.HasMetadata(key) ? file.GetString(key) : throw new InvalidDataException($"{path}: not a Pinpoint probe (no \"{key}\" metadata)");
        if (Meta("format") != Format) throw new InvalidDataException($"{path}: probe format '{Meta("format")}', expected {Format}");
        double[] Read(string name) => file[name].ToArray().Select(v => (double)v).ToArray();
        var probe = new LinearProbe(Read("probe.weight"), Read("probe.bias"));
        return new SavedProbe(Meta("hook"), Meta("method"), JsonSerializer.Deserialize<string[]>(Meta("classes")) ?? [], probe, Read("directions"), Meta("model"));
    }
}
