namespace Pinpoint.Interpretability;
