/** A row as a change found it (locked) and as it left it: what audit rows and notifications need. */
export interface Change<T> {
  before: T;
  after: T;
}
