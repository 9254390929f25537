namespace Pinpoint.Training;

/// <summary>Training stopped because the loss or the gradient stopped being finite (the weights were left as they were).</summary>
public sealed class TrainingStoppedException(string message) : Exception(message);
