public enum RotaVersion { public static let current = "0.1.0" }
