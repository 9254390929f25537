namespace Pinpoint.Models;
