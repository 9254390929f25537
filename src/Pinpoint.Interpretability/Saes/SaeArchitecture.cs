namespace Pinpoint.Interpretability.Saes;

/// <summary>How an SAE turns encoder pre-activations into feature activations at inference.</summary>
public enum SaeArchitecture
{
    /// <summary>ReLU.</summary>
    Standard,
    /// <summary>The k largest pre-activations of each token, then ReLU.</summary>
    TopK,
    /// <summary>pre · H(pre − θ) with a per-feature threshold θ (also what a trained BatchTopK SAE is saved as).</summary>
    JumpRelu,
}

/// <summary>How an SAE is trained; BatchTopK trains with a batch-wide top-k and is saved as <see cref="SaeArchitecture.JumpRelu"/>.</summary>
public enum SaeTrainingArchitecture
{
    Standard,
    TopK,
    BatchTopK,
    JumpRelu,
}

public static class SaeArchitectureNames
{
    /// <summary>SAELens's spelling in cfg.json.</summary>
    public static string Name(SaeArchitecture a) => a switch
    {
        SaeArchitecture.Standard => "standard",
        SaeArchitecture.TopK => "topk",
        SaeArchitecture.JumpRelu => "jumprelu",
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    public static string Name(SaeTrainingArchitecture a) => a switch
    {
        SaeTrainingArchitecture.Standard => "standard",
        SaeTrainingArchitecture.TopK => "topk",
        SaeTrainingArchitecture.BatchTopK => "batchtopk",
        SaeTrainingArchitecture.JumpRelu => "jumprelu",
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    public static SaeTrainingArchitecture? ParseTraining(string? name) => name?.ToLowerInvariant() switch
    {
        "standard" or "relu" => SaeTrainingArchitecture.Standard,
        "topk" => SaeTrainingArchitecture.TopK,
        "batchtopk" => SaeTrainingArchitecture.BatchTopK,
        "jumprelu" => SaeTrainingArchitecture.JumpRelu,
        _ => null,
    };

    /// <summary>The inference architecture a trained SAE of this kind is saved as.</summary>
    public static SaeArchitecture SavedAs(SaeTrainingArchitecture a) => a switch
    {
        SaeTrainingArchitecture.Standard => SaeArchitecture.Standard,
        SaeTrainingArchitecture.TopK => SaeArchitecture.TopK,
        _ => SaeArchitecture.JumpRelu,
    };
}
