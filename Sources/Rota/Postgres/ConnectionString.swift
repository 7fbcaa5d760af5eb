import Foundation

/// libpq connection strings, in URI (`postgresql://...`) or `key=value` form.
public enum ConnectionString {
    /// The same connection string naming database `name` instead.
    public static func replacingDatabase(in connectionString: String, with name: String) -> String {
        if connectionString.hasPrefix("postgres://") || connectionString.hasPrefix("postgresql://"),
           var components = URLComponents(string: connectionString) {
            components.path = "/" + name
            return components.string ?? connectionString
        }
        // In key=value strings the last setting of a keyword wins.
        return connectionString + " dbname=\(name)"
    }
}
