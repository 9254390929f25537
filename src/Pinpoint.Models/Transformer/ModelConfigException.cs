namespace Pinpoint.Models.Transformer;

/// <summary>A model configuration that cannot describe a working transformer (sizes that contradict each other, unknown architecture).</summary>
public sealed class ModelConfigException(string message) : Exception(message);
