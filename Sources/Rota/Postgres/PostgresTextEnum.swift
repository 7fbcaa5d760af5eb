/// An enum whose cases are the text values of a column (its raw values), bound and decoded
/// as that text.
public protocol PostgresTextEnum: RawRepresentable, PostgresBindable, PostgresDecodable where RawValue == String {}

extension PostgresTextEnum {
    public var postgresText: String? { rawValue }

    public init(postgresText text: String) throws {
        guard let value = Self(rawValue: text) else {
            throw PostgresError(.decodingFailed, "cannot decode \(text.debugDescription) as \(Self.self)")
        }
        self = value
    }
}
