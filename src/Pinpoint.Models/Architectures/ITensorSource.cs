using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Architectures;

/// <summary>Named tensors of a checkpoint (one file or several shards), as an adapter sees them.</summary>
public interface ITensorSource
{
    /// <summary>The file or folder the tensors come from, for error messages.</summary>
    string SourcePath { get; }
    IEnumerable<string> Names { get; }
    Tensor? TryGet(string name);
}

public static class TensorSourceExtensions
{
    public static Tensor Get(this ITensorSource source, string name) =>
        source.TryGet(name) ?? throw new Transformer.ModelConfigException($"{source.SourcePath}: tensor '{name}' is missing");
}
